/**
 * The one place the adapter names the protocol-neutral pipeline: its public entry point and
 * contract types (DESIGN §4, "Wrapping any call"). Nothing else of the pipeline is used.
 */
export { createAdapterPolicy, createPolicy } from '../pipeline/index.js';
export type {
  AnswerFacts,
  AttemptContext,
  ExecuteOptions,
  OperationPolicy,
  Policy,
  PolicyOptions,
  ProbeContext,
  ProbeResult,
} from '../pipeline/index.js';
