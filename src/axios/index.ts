/**
 * `hotcold/axios`: REST over an existing axios instance, through the protocol-neutral pipeline
 * (DESIGN §4, "Wrapping any call"): RFC 9110 method semantics, `Idempotency-Key`, per-route
 * policies, 429/`Retry-After`, node and balancer 503s; 4xx answers are returned as axios would.
 * Guide: docs/rest.md.
 *
 * @module hotcold/axios
 */
export { attachPolicy } from './attach-policy.js';
export type { AttachedPolicy } from './attach-policy.js';
export type { AttachPolicyOptions } from './options.js';
export type { RoutePolicy } from './routes.js';
export { IDEMPOTENT_METHODS, IDEMPOTENCY_KEY_HEADER, isIdempotentMethod } from './http-semantics.js';
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
