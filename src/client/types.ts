/**
 * The public types of the hotcold client (DESIGN §4). Everything a user can pass to
 * `createClient` or receive from it is declared here; nothing uses `any`.
 */
import type { AxiosInstance } from 'axios';
import type { Observable } from 'rxjs';
import type {
  ConnectionState,
  DisconnectInfo,
  FailoverEvent,
  PermanentFailureInfo,
  PolicyEvent,
  ReconnectedEvent,
  ReconnectInfo,
} from '../connection/types.js';
import type { RetryOptions } from '../policy/backoff.js';
import type { BreakerOptions } from '../policy/breaker.js';
import type { BudgetOptions } from '../policy/budget.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import type { Logger } from '../shared/logger.js';
import type { Transport } from '../transport/types.js';
import type { FeedItem, FeedParams, FeedSubscribeOptions } from './feed.js';

export type { FeedItem, FeedParams };

// The connection's types are declared with the state machine (src/connection) and shared by
// every adapter; the client exports them under the names it always had.
export type {
  BreakerChange,
  ConnectionState,
  ConnectionStatus,
  DisconnectInfo,
  ErrorSummary,
  FailoverEvent,
  NodeIdentity,
  PermanentFailureInfo,
  PolicyEvent,
  PolicyEventType,
  ReconnectedEvent,
  ReconnectInfo,
} from '../connection/types.js';

// The policy sections are declared where they are implemented (src/policy), so the documented
// defaults and the validation can never drift apart.
export type { JitterKind, RetryOptions } from '../policy/backoff.js';
export type { BreakerOptions } from '../policy/breaker.js';
export type { BudgetOptions } from '../policy/budget.js';

/** Health probing while reconnecting: the pipeline's section (a short, capped backoff of `GET /health`). */
export type { ReconnectOptions } from '../pipeline/types.js';
import type { ReconnectOptions } from '../pipeline/types.js';

/** Per-method overrides. */
export interface MethodPolicy {
  /** Safe to run twice: retried even when the outcome of an attempt is unknown. */
  idempotent?: boolean;
  /** Overrides of the client-wide retry options, or `false` for a single attempt. */
  retry?: RetryOptions | false;
  /** Per-attempt timeout for this method, in ms (overrides `ClientOptions.timeoutMs`). */
  timeoutMs?: number;
  /** Whole-call deadline for this method, in ms (overrides `ClientOptions.deadlineMs`). */
  deadlineMs?: number;
  /** JSON-RPC error codes that are worth retrying for this method (opt-in). */
  retryOnCodes?: readonly number[];
}

/**
 * Credentials sent on every request (calls and health probes): HTTP Basic, or an
 * `Authorization: Bearer` token. They never appear in errors, events or logs.
 */
export type ClientAuth =
  | {
      /** HTTP Basic user name. */
      username: string;
      /** HTTP Basic password. */
      password: string;
    }
  | {
      /** Token sent as `Authorization: Bearer <token>`. */
      bearer: string;
    };

/**
 * Options of {@link createClient}. Only `url` is required; a bad value throws a
 * `ConfigurationError` naming the field.
 */
export interface ClientOptions {
  /** The balancer's base URL, or an address pool (`[a, b, …]`) when there is no balancer. */
  url: string | readonly string[];
  /** Retry schedule and limits (see {@link RetryOptions} for each default). */
  retry?: RetryOptions;
  /** Per-backend circuit breaker (see {@link BreakerOptions}); `false` turns it off. */
  breaker?: BreakerOptions | false;
  /** Client-wide retry budget (see {@link BudgetOptions}); `false` turns it off. */
  budget?: BudgetOptions | false;
  /**
   * Per-attempt timeout, in ms.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Whole-call deadline over every attempt and wait, in ms.
   * @default 30000
   */
  deadlineMs?: number;
  /**
   * Per-method policies by JSON-RPC method name; a method not listed is not idempotent.
   * @default {}
   */
  methods?: Readonly<Record<string, MethodPolicy>>;
  /**
   * The server deduplicates by `Idempotency-Key` even if it does not say so with `X-Hotcold-Dedup`.
   * @default false
   */
  serverDeduplicates?: boolean;
  /**
   * Calls allowed to wait for the connection to come back; one more fails with `PendingLimitException`.
   * @default 1000
   */
  maxPending?: number;
  /**
   * Health probes per outage before giving up (like Corda's -1: never).
   * @default Infinity
   */
  maxReconnectAttempts?: number;
  /** Health probing during an outage (see {@link ReconnectOptions}). */
  reconnect?: ReconnectOptions;
  /** Credentials for every request. Not with `transport` (configure your transport instead). */
  auth?: ClientAuth;
  /**
   * Extra headers on every request (e.g. a tenant id). Not with `transport`. Not the headers
   * hotcold sets on every call itself (`Idempotency-Key`, `X-Hotcold-Attempt`,
   * `X-Hotcold-Timeout-Ms`, in any case: {@link CLIENT_SET_HEADERS}), nor `Content-Type`,
   * `Content-Length` or `Host`.
   * @throws {ConfigurationError} from `createClient`, naming `headers.<name>`, for one of those
   */
  headers?: Readonly<Record<string, string>>;
  /** Your own axios instance (its interceptors keep working; its agent is yours to close). */
  axios?: AxiosInstance;
  /** A custom transport instead of axios (tests, in-memory, other protocols). */
  transport?: Transport;
  /**
   * Path of the JSON-RPC endpoint under each URL.
   * @default '/rpc'
   */
  rpcPath?: string;
  /**
   * Path of the health endpoint the reconnect probe asks (DESIGN §1).
   * @default '/health'
   */
  healthPath?: string;
  /**
   * Largest answer body accepted, in bytes; a bigger one fails the attempt as a
   * `ProtocolException` (may have executed). Not with `transport`.
   * @default 10485760 (10 MiB)
   */
  maxResponseBytes?: number;
  /**
   * How long a kept-alive connection may sit idle before the client closes it, in ms: it must be
   * shorter than the idle timeout of every server and balancer in the path, or a call sent on a
   * socket the server is just closing fails as "maybe executed". A server's shorter
   * `Keep-Alive: timeout=N` hint wins. Not with your own `axios` instance (configure its agent).
   * @default 1500
   */
  idleSocketTimeoutMs?: number;
  /** Called once when an outage is announced (status `reconnecting`). */
  onDisconnect?: (info: DisconnectInfo) => void;
  /** Called once when service resumes after an outage. */
  onReconnect?: (info: ReconnectInfo) => void;
  /** Called when `maxReconnectAttempts` probes of one outage found no service. */
  onPermanentFailure?: (info: PermanentFailureInfo) => void;
  /**
   * Generates the per-call `Idempotency-Key`.
   * @default `crypto.randomUUID`
   */
  idempotencyKey?: () => string;
  /**
   * Where metrics and spans go (docs/observability.md). Without it the global providers are used
   * if an OpenTelemetry SDK registered real ones before this was created; otherwise nothing is
   * recorded and nothing is paid for.
   * @default the global providers of `@opentelemetry/api`
   */
  telemetry?: TelemetryOptions;
  /**
   * Where the client logs (a pino logger, or any object with `debug/info/warn/error(obj, msg)`):
   * retries, probes and state changes at `debug`; failovers and reconnections at `info`; an open
   * breaker or an exhausted budget at `warn`; a permanent failure at `error`. Nothing is logged on
   * a call's success path. Records are redacted (URL passwords, tokens, the `auth` option's values).
   * @defaultValue none: nothing is logged, except that a user callback (`onDisconnect`, …) that
   * throws is reported on stderr (docs/logging.md "Defaults")
   */
  logger?: Logger;
}

/** Options of one `client.call()` (or a proxied method's last argument). */
export interface CallOptions {
  /** Aborts the call: it rejects with `CallAbortedException` (saying whether it may have run). */
  signal?: AbortSignal | undefined;
  /** Per-attempt timeout for this call, in ms (overrides the method's and the client's). */
  timeoutMs?: number | undefined;
  /** Whole-call deadline for this call, in ms (overrides the method's and the client's). */
  deadlineMs?: number | undefined;
  /** Your own key (e.g. Corda's client id for a flow start): makes a retried call safe on a deduplicating node. */
  idempotencyKey?: string | undefined;
}

/** The client's events: the pipeline's ({@link PolicyEvent}), under the client's name. */
export type ClientEvent = PolicyEvent;

/** The `type` of every {@link ClientEvent}. */
export type ClientEventType = ClientEvent['type'];

/** Options of `client.feed()` (see docs/feeds.md). */
export type FeedOptions = FeedSubscribeOptions;

/** Methods of an API interface, each `(params) => result`, as `client.proxy<Api>()` exposes them. */
export type ProxiedApi<Api> = {
  readonly [K in keyof Api as K extends string ? K : never]: Api[K] extends (...args: infer A) => infer R
    ? (...args: [...A, options?: CallOptions]) => Promise<Awaited<R>>
    : never;
};

/** A JSON-RPC client that survives hot-cold failover (see {@link createClient}). */
export interface HotcoldClient {
  /** Makes one logical call; resolves to the JSON-RPC result or rejects with one `RPCException`. */
  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T>;
  /** Typed calls: `client.proxy<Api>().balance({ account: 'A' })`. */
  proxy<Api extends object>(): ProxiedApi<Api>;
  /** A resumable feed that survives failover (no gaps, no duplicates). */
  feed<T = unknown>(name: string, params?: FeedParams, options?: FeedOptions): Observable<FeedItem<T>>;
  /** Replays the current state to every new subscriber. */
  readonly state$: Observable<ConnectionState>;
  /** Everything the pipeline does: attempts, retries, breaker moves, probes, failovers. */
  readonly events$: Observable<ClientEvent>;
  /** Emits when the answering node or its epoch changes. */
  readonly failover$: Observable<FailoverEvent>;
  /** Emits when service resumes after an outage. */
  readonly reconnected$: Observable<ReconnectedEvent>;
  /** The current state, synchronously. */
  readonly state: ConnectionState;
  /** `true` once `close()` was called. */
  readonly closed: boolean;
  /** Rejects pending calls with `ClientClosedException`, ends timers, sockets, breakers and observables. */
  close(): Promise<void>;
}
