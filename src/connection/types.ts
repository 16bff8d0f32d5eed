/**
 * The connection state machine's public types (DESIGN §3, §4): its states, the outage callbacks'
 * arguments and the events every pipeline emits — whatever protocol its adapter speaks. The
 * JSON-RPC client re-exports them under their historical names (`ClientEvent` is
 * {@link PolicyEvent}).
 */
import type { RPCExceptionKind } from '../errors.js';

export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

export interface ConnectionState {
  status: ConnectionStatus;
  node?: string | undefined;
  epoch?: number | undefined;
  /** Wall-clock time (ms since epoch) the status was entered. */
  since: number;
}

export interface NodeIdentity {
  node: string | undefined;
  epoch: number | undefined;
}

/** Corda GracefulReconnect parity: what a callback learns about an outage. */
export interface DisconnectInfo {
  /** Kind and (redacted) message of the failure that started the outage. */
  reason: { kind: RPCExceptionKind | 'probe'; message: string };
  node?: string | undefined;
  epoch?: number | undefined;
}

export interface ReconnectInfo {
  outageMs: number;
  node?: string | undefined;
  epoch?: number | undefined;
}

export interface PermanentFailureInfo {
  outageMs: number;
  /** Health probes (or, without a probe, trial calls) made during the outage. */
  attempts: number;
}

export interface FailoverEvent {
  from: NodeIdentity;
  to: NodeIdentity;
  /** Time without service before the new node answered (0 when no outage was seen), in ms. */
  outageMs: number;
}

export interface ReconnectedEvent {
  outageMs: number;
  node?: string | undefined;
  epoch?: number | undefined;
}

/** A failure as events carry it: its kind and redacted message, never the request. */
export interface ErrorSummary {
  kind: RPCExceptionKind;
  message: string;
  mayHaveExecuted: boolean;
}

/** What moved a breaker, with the backend (no userinfo) and the node it guards. */
export interface BreakerChange {
  backend: string;
  node?: string | undefined;
  epoch?: number | undefined;
  cause: 'failures' | 'reset-timeout' | 'trial-succeeded' | 'trial-failed' | 'identity-changed';
}

/**
 * Everything a pipeline reports on `events$`. `method` is the operation's name (a JSON-RPC
 * method, a REST route, a gRPC method).
 */
export type PolicyEvent =
  | { type: 'attempt'; method: string; attempt: number; backend: string }
  | { type: 'retry'; method: string; attempt: number; delayMs: number; error: ErrorSummary }
  | ({ type: 'breaker-open' } & BreakerChange)
  | ({ type: 'breaker-half-open' } & BreakerChange)
  | ({ type: 'breaker-close' } & BreakerChange)
  | { type: 'budget-exhausted'; method: string; attempt: number }
  | { type: 'state'; state: ConnectionState }
  | { type: 'disconnected'; reason: DisconnectInfo['reason'] }
  | { type: 'probe'; backend: string; attempt: number; ok: boolean; status?: number | undefined }
  | ({ type: 'reconnected' } & ReconnectedEvent)
  | ({ type: 'failover' } & FailoverEvent)
  | ({ type: 'permanent-failure' } & PermanentFailureInfo)
  | { type: 'active-backend'; backend: string };

export type PolicyEventType = PolicyEvent['type'];
