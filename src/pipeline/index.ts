/** The protocol-neutral pipeline's public surface (re-exported by `hotcold`). */
export { createPolicy } from './create-policy.js';
/** @internal For hotcold/axios (names built from request paths); `hotcold` does not re-export it. */
export { createAdapterPolicy } from './create-policy.js';
/** @internal For hotcold/grpc's own policy (its attempts timed by the interceptor); `hotcold` does not re-export it. */
export { createSelfTimedPolicy } from './create-policy.js';
export type { SelfTimedPolicy, SelfTimedRunOptions } from './create-policy.js';
export { defaultClassify } from './classify.js';
export type {
  AnswerFacts,
  AttemptContext,
  Classifier,
  ClassifyContext,
  ExecuteOptions,
  OperationPolicy,
  Policy,
  PolicyEventListener,
  PolicyOptions,
  ProbeContext,
  ProbeResult,
  ReconnectOptions as PolicyReconnectOptions,
} from './types.js';
