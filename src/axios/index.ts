/**
 * `hotcold/axios`: REST over an existing axios instance, through the protocol-neutral pipeline
 * (DESIGN §4, "Wrapping any call"). See docs/rest.md.
 */
export { attachPolicy } from './attach-policy.js';
export type { AttachedPolicy } from './attach-policy.js';
export type { AttachPolicyOptions } from './options.js';
export type { RoutePolicy } from './routes.js';
export { IDEMPOTENT_METHODS, IDEMPOTENCY_KEY_HEADER, isIdempotentMethod } from './http-semantics.js';
export { classifyFailedAnswer, isAnswerStatus } from './classify-response.js';
export {
  RPCException,
  ConnectionFailureException,
  UnknownOutcomeException,
  ProtocolException,
  CircuitOpenException,
  DeadlineExceededException,
  RetriesExhaustedException,
  ClientClosedException,
  CallAbortedException,
  ConfigurationError,
  isRPCException,
} from '../errors.js';
export type { Logger, LogLevel } from '../shared/logger.js';
