/**
 * The public types of the hotcold client (DESIGN §4). Everything a user can pass to
 * `createClient` or receive from it is declared here; nothing uses `any`.
 */
import type { AxiosInstance } from 'axios';
import type { Observable } from 'rxjs';
import type { RPCExceptionKind } from '../errors.js';
import type { RetryOptions } from '../policy/backoff.js';
import type { BreakerOptions } from '../policy/breaker.js';
import type { BudgetOptions } from '../policy/budget.js';
import type { Transport } from '../transport/types.js';
import type { FeedItem, FeedParams, FeedSubscribeOptions } from './feed.js';

export type { FeedItem, FeedParams };

// The policy sections are declared where they are implemented (src/policy), so the documented
// defaults and the validation can never drift apart.
export type { JitterKind, RetryOptions } from '../policy/backoff.js';
export type { BreakerOptions } from '../policy/breaker.js';
export type { BudgetOptions } from '../policy/budget.js';

/** Health probing while reconnecting: a short, capped backoff. */
export interface ReconnectOptions {
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Timeout of one `GET /health` probe. */
  probeTimeoutMs?: number;
}

/** Per-method overrides. */
export interface MethodPolicy {
  /** Safe to run twice: retried even when the outcome of an attempt is unknown. */
  idempotent?: boolean;
  /** Overrides of the client-wide retry options, or `false` for a single attempt. */
  retry?: RetryOptions | false;
  timeoutMs?: number;
  deadlineMs?: number;
  /** JSON-RPC error codes that are worth retrying for this method (opt-in). */
  retryOnCodes?: readonly number[];
}

export type ClientAuth = { username: string; password: string } | { bearer: string };

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
  /** Health probes made during the outage. */
  attempts: number;
}

export interface ClientOptions {
  /** The balancer's base URL, or an address pool (`[a, b, …]`) when there is no balancer. */
  url: string | readonly string[];
  retry?: RetryOptions;
  breaker?: BreakerOptions | false;
  budget?: BudgetOptions | false;
  /** Per-attempt timeout (default 5000 ms). */
  timeoutMs?: number;
  /** Whole-call deadline over every attempt and wait (default 30000 ms). */
  deadlineMs?: number;
  methods?: Readonly<Record<string, MethodPolicy>>;
  /** The server deduplicates by `Idempotency-Key` even if it does not say so with `X-Hotcold-Dedup`. */
  serverDeduplicates?: boolean;
  /** Calls allowed to wait for the connection to come back (default 1000). */
  maxPending?: number;
  /** Health probes per outage before giving up (default `Infinity`, like Corda's -1). */
  maxReconnectAttempts?: number;
  reconnect?: ReconnectOptions;
  auth?: ClientAuth;
  headers?: Readonly<Record<string, string>>;
  /** Your own axios instance (its interceptors keep working; its agent is yours to close). */
  axios?: AxiosInstance;
  /** A custom transport instead of axios (tests, in-memory, other protocols). */
  transport?: Transport;
  rpcPath?: string;
  healthPath?: string;
  maxResponseBytes?: number;
  /**
   * How long a kept-alive connection may sit idle before the client closes it, in ms: it must be
   * shorter than the idle timeout of every server and balancer in the path, or a call sent on a
   * socket the server is just closing fails as "maybe executed". A server's shorter
   * `Keep-Alive: timeout=N` hint wins. Not with your own `axios` instance (configure its agent).
   * @default 1500
   */
  idleSocketTimeoutMs?: number;
  onDisconnect?: (info: DisconnectInfo) => void;
  onReconnect?: (info: ReconnectInfo) => void;
  onPermanentFailure?: (info: PermanentFailureInfo) => void;
  /** Generates the per-call `Idempotency-Key` (default `crypto.randomUUID`). */
  idempotencyKey?: () => string;
}

export interface CallOptions {
  signal?: AbortSignal | undefined;
  timeoutMs?: number | undefined;
  deadlineMs?: number | undefined;
  /** Your own key (e.g. Corda's client id for a flow start): makes a retried call safe on a deduplicating node. */
  idempotencyKey?: string | undefined;
}

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

export interface FailoverEvent {
  from: NodeIdentity;
  to: NodeIdentity;
  /** Time without service before the new node answered (0 when no outage was seen). */
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

export type ClientEvent =
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

export type ClientEventType = ClientEvent['type'];

/** Options of `client.feed()` (see docs/feeds.md). */
export type FeedOptions = FeedSubscribeOptions;

/** Methods of an API interface, each `(params) => result`, as `client.proxy<Api>()` exposes them. */
export type ProxiedApi<Api> = {
  readonly [K in keyof Api as K extends string ? K : never]: Api[K] extends (...args: infer A) => infer R
    ? (...args: [...A, options?: CallOptions]) => Promise<Awaited<R>>
    : never;
};

export interface HotcoldClient {
  /** Makes one logical call; resolves to the JSON-RPC result or rejects with one `RPCException`. */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** Typed calls: `client.proxy<Api>().balance({ account: 'A' })`. */
  proxy<Api extends object>(): ProxiedApi<Api>;
  /** A resumable feed that survives failover (no gaps, no duplicates). */
  feed<T = unknown>(name: string, params?: FeedParams, options?: FeedOptions): Observable<FeedItem<T>>;
  /** Replays the current state to every new subscriber. */
  readonly state$: Observable<ConnectionState>;
  readonly events$: Observable<ClientEvent>;
  readonly failover$: Observable<FailoverEvent>;
  readonly reconnected$: Observable<ReconnectedEvent>;
  /** The current state, synchronously. */
  readonly state: ConnectionState;
  readonly closed: boolean;
  /** Rejects pending calls with `ClientClosedException`, ends timers, sockets, breakers and observables. */
  close(): Promise<void>;
}
