/**
 * hotcold — calls that survive hot-cold failover. The client's public surface.
 */
export {
  RPCException,
  ConnectionFailureException,
  UnknownOutcomeException,
  RemoteCallException,
  AuthenticationException,
  ProtocolException,
  CircuitOpenException,
  DeadlineExceededException,
  RetriesExhaustedException,
  ClientClosedException,
  CallAbortedException,
  PendingLimitException,
  ConfigurationError,
  isRPCException,
} from './errors.js';
export type { RPCExceptionKind, RPCExceptionOptions, CauseSummary, RetriesExhaustedReason } from './errors.js';
export type { Transport, TransportRequest, TransportResponse, HealthResult } from './transport/types.js';
