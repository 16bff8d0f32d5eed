/**
 * The protocol-neutral pipeline's public contract (DESIGN §4, "Wrapping any call").
 *
 * A policy runs one logical call as attempts of a user function. It knows nothing of JSON-RPC,
 * HTTP or gRPC: adapters (the JSON-RPC client, `hotcold/axios`, `hotcold/grpc`) turn their
 * protocol's outcomes into {@link RPCException}s (by throwing them from the attempt, or through
 * `classify`) and report who answered through {@link AttemptContext.report}.
 */
import type { Observable } from 'rxjs';
import type { RPCException } from '../errors.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import type { BreakerOptions } from '../policy/breaker.js';
import type { BudgetOptions } from '../policy/budget.js';
import type { RetryOptions } from '../policy/backoff.js';
import type { Logger } from '../shared/logger.js';
import type {
  ConnectionState,
  DisconnectInfo,
  FailoverEvent,
  PermanentFailureInfo,
  PolicyEvent,
  ReconnectedEvent,
  ReconnectInfo,
} from '../connection/types.js';

/** A named operation's policy (a JSON-RPC method, a REST route, a gRPC method). */
export interface OperationPolicy {
  /** Safe to repeat after it may have run. @default false */
  idempotent?: boolean;
  /** Overrides the policy's retry section; `false` makes one attempt only. */
  retry?: RetryOptions | false;
  /** Per-attempt timeout in ms. */
  timeoutMs?: number;
  /** Whole-call deadline in ms. */
  deadlineMs?: number;
  /** Application error codes ({@link RemoteCallException.code}) that are retried. @default [] */
  retryOnCodes?: readonly number[];
}

/** Reconnect probing: how often the policy asks whether service is back. */
export interface ReconnectOptions {
  /**
   * First pause between health probes of an outage, in ms (doubled per probe, with jitter).
   * @default 50
   */
  minDelayMs?: number;
  /**
   * Longest pause between health probes, in ms (at least `minDelayMs`).
   * @default 250
   */
  maxDelayMs?: number;
  /**
   * Timeout of one probe, in ms.
   * @default 1000
   */
  probeTimeoutMs?: number;
}

/** What a probe learned. `ok: true` means a node is serving. */
export interface ProbeResult {
  /** Whether a node is serving (e.g. the health endpoint answered 200 `active`). */
  ok: boolean;
  /** The serving node's name, when the protocol says it (e.g. `X-Hotcold-Node`). */
  node?: string | undefined;
  /** The serving node's fencing token / epoch. */
  epoch?: number | undefined;
  /** The node deduplicates repeated idempotency keys in its term. */
  dedup?: boolean | undefined;
  /** The server asked for a pause (back-pressure), in ms: probes and attempts to this backend wait for it. */
  retryAfterMs?: number | undefined;
  /** The protocol's status of the probe's answer (e.g. the HTTP status), shown on `probe` events. */
  status?: number | undefined;
  /**
   * The server answered and asked the client to slow down (HTTP `429`, gRPC `RESOURCE_EXHAUSTED`
   * with a pushback): it is alive. With `ok: false` the probe neither found service nor failed:
   * it announces no outage, does not count toward `maxReconnectAttempts`, and the next probe waits
   * for `retryAfterMs` (when given).
   * @defaultValue false
   */
  backPressure?: boolean | undefined;
}

/** Argument of {@link PolicyOptions.probe}. */
export interface ProbeContext {
  /** Backend key being probed (see {@link PolicyOptions.backends}). */
  backend: string;
  /** Aborts when the probe's timeout passes or the policy closes. */
  signal: AbortSignal;
  /** Timeout of this probe in ms. */
  timeoutMs: number;
}

/** Facts about who answered an attempt, reported by the adapter. */
export interface AnswerFacts {
  /** The answering node's name (e.g. its `X-Hotcold-Node` header). */
  node?: string | undefined;
  /** The answering node's lease epoch (e.g. its `X-Hotcold-Epoch` header). */
  epoch?: number | undefined;
  /** The answering node advertised deduplication by idempotency key in its term. */
  dedup?: boolean | undefined;
  /**
   * Evidence for classification, reported before the attempt fails: `false` when the request was
   * certainly not (fully) written, `true` when it was. Reaches {@link ClassifyContext.written}.
   * When the pipeline ends the attempt (its timeout, an abort) while `false` is reported, the call
   * counts as not executed and may be sent again at once: report it only from a function that
   * stops writing when its `signal` aborts.
   */
  written?: boolean | undefined;
}

/** Where a failure came from, for {@link PolicyOptions.classify}. */
export interface ClassifyContext {
  /** The operation's name. */
  name: string;
  /** 1-based attempt number. */
  attempt: number;
  /** The backend key the attempt went to. */
  backend: string;
  /**
   * Evidence from the adapter: `false` when the request was certainly not (fully) written, `true`
   * when it was, `undefined` when unknown (then a broken connection means "maybe executed").
   */
  written?: boolean | undefined;
}

/** Turns whatever an attempt threw into the one {@link RPCException} the pipeline decides on. */
export type Classifier = (error: unknown, context: ClassifyContext) => RPCException;

/** A callback for {@link PolicyEvent}s. */
export type PolicyEventListener = (event: PolicyEvent) => void;

/** Options of {@link createPolicy}: `createClient`'s, minus the wire. */
export interface PolicyOptions {
  /**
   * Backend keys, for per-backend breakers, pacing and probing (e.g. the balancer's URL).
   * An attempt receives the key it should go to in {@link AttemptContext.backend}.
   * @default ['default']
   */
  backends?: string | readonly string[];
  /** Retry schedule and limits (see {@link RetryOptions} for each default). */
  retry?: RetryOptions;
  /** Per-backend circuit breaker (see {@link BreakerOptions}); `false` turns it off. */
  breaker?: BreakerOptions | false;
  /** Retry budget over every operation (see {@link BudgetOptions}); `false` turns it off. */
  budget?: BudgetOptions | false;
  /**
   * Per-attempt timeout in ms.
   * @default 5000
   */
  timeoutMs?: number;
  /**
   * Whole-call deadline over every attempt and wait, in ms.
   * @default 30000
   */
  deadlineMs?: number;
  /** Per-name policies. */
  methods?: Readonly<Record<string, OperationPolicy>>;
  /** Every server behind the backends deduplicates by idempotency key (skip the proof). @default false */
  serverDeduplicates?: boolean;
  /**
   * Calls allowed to wait for service to come back; one more fails with `PendingLimitException`.
   * @default 1000
   */
  maxPending?: number;
  /**
   * Health probes per outage before giving up (status `failed`, `onPermanentFailure`).
   * @default Infinity
   */
  maxReconnectAttempts?: number;
  /** Health probing during an outage (see {@link ReconnectOptions}). */
  reconnect?: ReconnectOptions;
  /** Called once when an outage is announced (status `reconnecting`). */
  onDisconnect?: (info: DisconnectInfo) => void;
  /** Called once when service resumes after an outage. */
  onReconnect?: (info: ReconnectInfo) => void;
  /** Called when `maxReconnectAttempts` probes of one outage found no service. */
  onPermanentFailure?: (info: PermanentFailureInfo) => void;
  /** Generates the per-call idempotency key. */
  idempotencyKey?: () => string;
  /**
   * Turns whatever an attempt threw into the one RPCException the pipeline decides on.
   * @default `defaultClassify` from `hotcold` (Node network, abort/timeout, axios, fetch/undici, grpc-js errors)
   */
  classify?: Classifier;
  /**
   * Reconnect probe. Without one, the state machine recovers from the next successful call
   * (held calls are released one at a time as trials).
   */
  probe?: (context: ProbeContext) => Promise<boolean | ProbeResult>;
  /**
   * Where metrics and spans go (docs/observability.md). Without it the global providers are used
   * if an OpenTelemetry SDK registered real ones before this was created; otherwise nothing is
   * recorded and nothing is paid for.
   * @default the global providers of `@opentelemetry/api`
   */
  telemetry?: TelemetryOptions;
  /**
   * Where the policy logs (a pino logger, or any object with `debug/info/warn/error(obj, msg)`):
   * retries, probes and state changes at `debug`; failovers, reconnections and breaker recovery
   * at `info`; an open breaker or an exhausted budget at `warn`; a permanent failure at `error`.
   * Nothing is logged on a call's success path. Every record is redacted.
   * @defaultValue none: nothing is logged, except that a user callback (`onDisconnect`, …) that
   * throws is reported on stderr (docs/logging.md "Defaults")
   */
  logger?: Logger;
}

/** What one attempt receives. */
export interface AttemptContext {
  /** 1-based attempt number. */
  readonly attempt: number;
  /** Aborts on the caller's signal, `close()`, or this attempt's timeout. */
  readonly signal: AbortSignal;
  /** This attempt's timeout in ms: the operation's `timeoutMs`, cut to what is left of the deadline. */
  readonly timeoutMs: number;
  /** What is left of the whole call's deadline in ms when the attempt starts (send it to the server). */
  readonly deadlineLeftMs: number;
  /** The same on every attempt of one logical call. */
  readonly idempotencyKey: string;
  /** The backend key this attempt should go to. */
  readonly backend: string;
  /**
   * Tell the pipeline who answered (identity drives failover detection and learned dedup). Bound to
   * this attempt: a property, not a method, so it may be passed on or destructured.
   */
  readonly report: (facts: AnswerFacts) => void;
}

/** Options of one {@link Policy.execute} call. */
export interface ExecuteOptions {
  /** Operation name: selects `methods[name]`, appears in errors and events. */
  name: string;
  /** Overrides the operation's `idempotent`. */
  idempotent?: boolean | undefined;
  /**
   * Your own idempotency key for this logical call (1–200 visible ASCII characters); absent: the
   * policy makes one (`idempotencyKey` option, else a UUID) and hands it to every attempt as
   * {@link AttemptContext.idempotencyKey}.
   *
   * `false`: this call carries **no** key — your function sends none, so nothing can recognise a
   * repeat. Unless the call is `idempotent`, an attempt that may have run is then never repeated,
   * even where the server deduplicates keyed calls: the call fails at once with that attempt's
   * error (`mayHaveExecuted: true`) instead of after a backoff. Attempts that were never sent
   * are still retried. (`AttemptContext.idempotencyKey` still holds a string: do not send it.)
   */
  idempotencyKey?: string | false | undefined;
  /** Per-attempt timeout for this call, in ms (overrides the operation's and the policy's). */
  timeoutMs?: number | undefined;
  /** Whole-call deadline for this call, in ms (overrides the operation's and the policy's). */
  deadlineMs?: number | undefined;
  /**
   * A bound from outside this call, in ms from now: typically your own caller's deadline (what is
   * left of the request you are serving, a gRPC `deadline`). Unlike `deadlineMs` it never
   * loosens: the call — every attempt, backoff, hold while reconnecting and wait — ends at the
   * earlier of this and its deadline (`deadlineMs`, else the operation's, else the policy's), and
   * each attempt's `timeoutMs` and `deadlineLeftMs` are cut to it. `Infinity`: no bound. Zero or
   * less: the call is not started and rejects with `DeadlineExceededException`
   * (`mayHaveExecuted: false`).
   * @throws {ConfigurationError} naming `outerDeadlineMs` when it is no number (NaN included)
   */
  outerDeadlineMs?: number | undefined;
  /** Aborts the call: it rejects with `CallAbortedException` (saying whether it may have run). */
  signal?: AbortSignal | undefined;
}

/** A protocol-neutral resilience policy (see {@link createPolicy}). */
export interface Policy {
  /**
   * Runs `fn` as the attempts of one logical call under every rule of DESIGN §2–§3.
   * @throws {RPCException} one subclass, saying truthfully whether the call may have run.
   */
  execute<T>(fn: (context: AttemptContext) => Promise<T> | T, options: ExecuteOptions): Promise<T>;
  /** Replays the current state to every new subscriber, then every change. */
  readonly state$: Observable<ConnectionState>;
  /** Everything the pipeline does: attempts, retries, breaker moves, probes, failovers. */
  readonly events$: Observable<PolicyEvent>;
  /** Emits when the answering node or its epoch changes. */
  readonly failover$: Observable<FailoverEvent>;
  /** Emits when service resumes after an outage. */
  readonly reconnected$: Observable<ReconnectedEvent>;
  /** The current state, synchronously. */
  readonly state: ConnectionState;
  /** `true` once `close()` was called. */
  readonly closed: boolean;
  /**
   * Rejects waiting and running calls with `ClientClosedException`, ends timers, breakers and
   * observables. Idempotent.
   */
  close(): Promise<void>;
}
