/** The one place `hotcold/grpc` meets the pipeline: its public entry and contract types only. */
export { createPolicy } from '../index.js';
export type { AttemptContext, Policy, PolicyOptions, ProbeContext, ProbeResult } from '../index.js';
