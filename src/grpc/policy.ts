/**
 * The one place `hotcold/grpc` meets the pipeline: its public entry and contract types, and the
 * pipeline entry's internal policy whose attempts the interceptor times itself.
 */
export { createPolicy } from '../index.js';
export type { AttemptContext, Policy, PolicyOptions, ProbeContext, ProbeResult } from '../index.js';
export { createSelfTimedPolicy } from '../pipeline/index.js';
export type { SelfTimedPolicy, SelfTimedRunOptions } from '../pipeline/index.js';
