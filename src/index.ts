/**
 * `hotcold`: calls that survive hot-cold failover. {@link createClient} is a JSON-RPC client whose
 * errors say whether a call may have run (`RPCException.mayHaveExecuted`), that retries only what
 * is safe to repeat, holds calls through an outage and reports failovers; {@link createPolicy}
 * is the same pipeline around any function (fetch, axios, gRPC, a driver). Guides: docs/client.md,
 * docs/policy.md.
 *
 * @module hotcold
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
export { createAxiosTransport, parseRetryAfter } from './transport/index.js';
export type { AxiosTransport, AxiosTransportOptions, TransportAuth } from './transport/index.js';
export { createClient } from './client/create-client.js';
export { createMemoryTransport } from './client/memory-transport.js';
export type { MemoryTransportOptions } from './client/memory-transport.js';
export type {
  HotcoldClient,
  ClientOptions,
  CallOptions,
  RetryOptions,
  BreakerOptions,
  BudgetOptions,
  ReconnectOptions,
  MethodPolicy,
  JitterKind,
  ClientAuth,
  ConnectionStatus,
  ConnectionState,
  NodeIdentity,
  FailoverEvent,
  ReconnectedEvent,
  DisconnectInfo,
  ReconnectInfo,
  PermanentFailureInfo,
  ClientEvent,
  ClientEventType,
  ErrorSummary,
  ProxiedApi,
  FeedItem,
  FeedParams,
  FeedOptions,
} from './client/types.js';
export type { FeedSubscribeOptions } from './client/feed.js';
export { JITTER_KINDS } from './policy/backoff.js';
export { CLIENT_SET_HEADERS } from './wire.js';
export type { WhenOpen } from './policy/retry-rules.js';
export { createPolicy, defaultClassify } from './pipeline/index.js';
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
} from './pipeline/index.js';
export type { PolicyEvent, PolicyEventType, BreakerChange } from './connection/types.js';
export type { TelemetryOptions } from './shared/telemetry.js';
export type { Logger, LogLevel } from './shared/logger.js';
