/**
 * The public types of the hotcold client (DESIGN §4). Everything a user can pass to
 * `createClient` or receive from it is declared here; nothing uses `any`.
 */
import type { AxiosInstance } from 'axios';
import type { Observable } from 'rxjs';
import type { RPCExceptionKind } from '../errors.js';
import type { Transport } from '../transport/types.js';
import type { FeedItem, FeedParams, FeedSubscribeOptions } from './feed.js';

export type { FeedItem, FeedParams };

export type JitterKind = 'full' | 'equal' | 'decorrelated' | 'none';

/** Backoff between attempts of one call. Defaults: 8 attempts, 50–2000 ms, full jitter. */
export interface RetryOptions {
  /** Attempts in total, the first included (>= 1). */
  maxAttempts?: number;
  minDelayMs?: number;
  maxDelayMs?: number;
  jitter?: JitterKind;
  /** Exponential factor (default 2). */
  factor?: number;
  /** A server's `Retry-After` is honoured up to this many milliseconds. */
  maxRetryAfterMs?: number;
}

/** One circuit breaker per backend identity (balancer URL or pool member). */
export interface BreakerOptions {
  errorThresholdPercentage?: number;
  resetTimeoutMs?: number;
  volumeThreshold?: number;
  rollingCountTimeoutMs?: number;
  rollingCountBuckets?: number;
  /** `fail`: an open breaker fails the attempt at once; `wait`: wait for half-open within the deadline. */
  whenOpen?: 'fail' | 'wait';
}

/** Client-wide retry budget (Finagle style): retries up to `ratio` of recent calls plus a floor. */
export interface BudgetOptions {
  ratio?: number;
  minRetriesPerSecond?: number;
  ttlMs?: number;
}

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

export type ClientEvent =
  | { type: 'attempt'; method: string; attempt: number; backend: string }
  | { type: 'retry'; method: string; attempt: number; delayMs: number; error: ErrorSummary }
  | { type: 'breaker-open'; backend: string; node?: string | undefined }
  | { type: 'breaker-half-open'; backend: string; node?: string | undefined }
  | { type: 'breaker-close'; backend: string; node?: string | undefined }
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
