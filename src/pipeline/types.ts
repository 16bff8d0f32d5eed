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
import type { BreakerOptions } from '../policy/breaker.js';
import type { BudgetOptions } from '../policy/budget.js';
import type { RetryOptions } from '../policy/backoff.js';
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
  minDelayMs?: number;
  maxDelayMs?: number;
  /** Timeout of one probe, in ms. */
  probeTimeoutMs?: number;
}

/** What a probe learned. `ok: true` means a node is serving. */
export interface ProbeResult {
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
  node?: string | undefined;
  epoch?: number | undefined;
  /** The answering node advertised deduplication by idempotency key in its term. */
  dedup?: boolean | undefined;
  /**
   * Evidence for classification, reported before the attempt fails: `false` when the request was
   * certainly not (fully) written, `true` when it was. Reaches {@link ClassifyContext.written}.
   */
  written?: boolean | undefined;
}

/** Where a failure came from, for {@link PolicyOptions.classify}. */
export interface ClassifyContext {
  /** The operation's name. */
  name: string;
  /** 1-based attempt number. */
  attempt: number;
  backend: string;
  /**
   * Evidence from the adapter: `false` when the request was certainly not (fully) written, `true`
   * when it was, `undefined` when unknown (then a broken connection means "maybe executed").
   */
  written?: boolean | undefined;
}

/** Turns whatever an attempt threw into the one {@link RPCException} the pipeline decides on. */
export type Classifier = (error: unknown, context: ClassifyContext) => RPCException;

export type PolicyEventListener = (event: PolicyEvent) => void;

/** Options of {@link createPolicy}: `createClient`'s, minus the wire. */
export interface PolicyOptions {
  /**
   * Backend keys, for per-backend breakers, pacing and probing (e.g. the balancer's URL).
   * An attempt receives the key it should go to in {@link AttemptContext.backend}.
   * @default ['default']
   */
  backends?: string | readonly string[];
  retry?: RetryOptions;
  breaker?: BreakerOptions | false;
  budget?: BudgetOptions | false;
  /** Per-attempt timeout in ms. */
  timeoutMs?: number;
  /** Whole-call deadline in ms. */
  deadlineMs?: number;
  /** Per-name policies. */
  methods?: Readonly<Record<string, OperationPolicy>>;
  /** Every server behind the backends deduplicates by idempotency key (skip the proof). @default false */
  serverDeduplicates?: boolean;
  /** Bound on calls held while reconnecting. */
  maxPending?: number;
  maxReconnectAttempts?: number;
  reconnect?: ReconnectOptions;
  onDisconnect?: (info: DisconnectInfo) => void;
  onReconnect?: (info: ReconnectInfo) => void;
  onPermanentFailure?: (info: PermanentFailureInfo) => void;
  /** Generates the per-call idempotency key. */
  idempotencyKey?: () => string;
  /** Error → RPCException. Default: {@link defaultClassify} (Node network, abort/timeout, axios, fetch/undici, grpc-js). */
  classify?: Classifier;
  /**
   * Reconnect probe. Without one, the state machine recovers from the next successful call
   * (held calls are released one at a time as trials).
   */
  probe?: (context: ProbeContext) => Promise<boolean | ProbeResult>;
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
  /** Tell the pipeline who answered (identity drives failover detection and learned dedup). */
  report(facts: AnswerFacts): void;
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
  timeoutMs?: number | undefined;
  deadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** A protocol-neutral resilience policy (see {@link createPolicy}). */
export interface Policy {
  /**
   * Runs `fn` as the attempts of one logical call under every rule of DESIGN §2–§3.
   * @throws {RPCException} one subclass, saying truthfully whether the call may have run.
   */
  execute<T>(fn: (context: AttemptContext) => Promise<T> | T, options: ExecuteOptions): Promise<T>;
  readonly state$: Observable<ConnectionState>;
  readonly events$: Observable<PolicyEvent>;
  readonly failover$: Observable<FailoverEvent>;
  readonly reconnected$: Observable<ReconnectedEvent>;
  readonly state: ConnectionState;
  readonly closed: boolean;
  close(): Promise<void>;
}
