/**
 * The call pipeline of DESIGN §3, protocol-neutral: one logical call runs as attempts of a
 * function, under the policy module (retry loop, rules, budget, backoff, breaker, deadline) and
 * the connection state machine. It knows nothing of JSON-RPC, HTTP or gRPC: an adapter hands it
 * the attempt function and, through {@link PipelineHooks}, what only the wire can tell (probes,
 * the dedup check, how to scrub its secrets).
 *
 *   call → operation policy → one idempotency key → attempt 1 directly (no retry machinery on
 *   the success path) → on failure `retryAfterFailure` (rules, budget, backoff/Retry-After,
 *   deadline) → each attempt: wait while reconnecting → pacing → dedup proof → breaker of the
 *   backend → the function with the per-attempt timeout cut to what is left of the deadline →
 *   one RPCException out.
 *
 * The call path exists once: attempt 1 and every retry go through {@link Pipeline.attempt}.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { map, Observable, Subject } from 'rxjs';
import {
  CallAbortedException,
  ClientClosedException,
  ConfigurationError,
  ConnectionFailureException,
  DeadlineExceededException,
  PendingLimitException,
  RemoteCallException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  isRPCException,
  type RPCException,
} from '../errors.js';
import { ConnectionMonitor, type MonitorProbeResult, type WaitOutcome } from '../connection/monitor.js';
import { DedupFacts } from '../connection/dedup-facts.js';
import { BackendPacing } from '../connection/pacing.js';
import type {
  ConnectionState,
  ErrorSummary,
  FailoverEvent,
  PolicyEvent,
  ReconnectedEvent,
} from '../connection/types.js';
import { CircuitBreakers, resolveBreakerOptions, type BreakerPermit, type BreakerStateEvent } from '../policy/breaker.js';
import { Deadline } from '../policy/deadline.js';
import { resolveRetryOptions, type ResolvedRetryOptions } from '../policy/backoff.js';
import { createRetryBudget, resolveBudgetOptions, type RetryBudget } from '../policy/budget.js';
import { decideRetry, type RetryVerdict } from '../policy/retry-rules.js';
import { retryAfterFailure, type RetryEvent } from '../policy/retry.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../wire.js';
import { monotonicNow } from '../shared/clock.js';
import { Log } from '../shared/logger.js';
import { redactText } from '../shared/redact.js';
import { SignalFanout } from '../shared/signal-fanout.js';
import { requireMs } from '../shared/validate.js';
import { sleep } from '../shared/sleep.js';
import type { CallObserver, PipelineObserver } from '../observability/hooks.js';
import { observePipeline } from '../observability/pipeline-observer.js';
import { proveDeduplication, SharedDedupAsk, type DedupAsk } from './dedup-proof.js';
import { RacedAttempts, type RacedEntry } from './raced-attempts.js';
import type { MethodSettings, ResolvedPipelineOptions } from './options.js';
import type { AnswerFacts, AttemptContext, ClassifyContext } from './types.js';

/** Timers may fire a millisecond early or late; within this, a spent deadline is spent. */
const DEADLINE_TIMER_SLACK_MS = 2;

/**
 * The default idempotency key generator: a random UUID drawn once per pipeline, then a counter —
 * `<uuid>.<n>` (decimal: V8 writes a small integer's digits on a fast path, where
 * `toString(36)` is a runtime call into its radix conversion). Unique per logical call across processes (122 random
 * bits per pipeline) and far cheaper than `randomUUID()` per call. Keys need to be unique,
 * not secret: a node binds each key to the caller's identity.
 */
function keyGenerator(): () => string {
  const prefix = `${randomUUID()}.`;
  let counter = 0;
  return () => prefix + ++counter;
}

/** What an adapter tells the pipeline that only its wire knows. Internal: not public API. */
export interface PipelineHooks {
  /** Backend labels for events and messages (no userinfo); default: the backend keys. */
  labels?: readonly string[] | undefined;
  /** Error → RPCException for whatever an attempt threw that is not one already; the attempt is lent too (adapters' own bookkeeping). */
  classify: (error: unknown, context: ClassifyContext, attempt: Attempt) => RPCException;
  /** Reconnect probe of one backend; without one, held calls recover as trials. */
  probe?: ((backend: string, options: { timeoutMs: number; signal: AbortSignal }) => Promise<MonitorProbeResult>) | undefined;
  /** Asks a backend who serves now, for the dedup proof; without one nothing is ever proven. */
  proveDedup?: DedupAsk | undefined;
  /**
   * `'adapter'`: the attempt function ends itself at its `timeoutMs` and when the call's signal
   * aborts (the JSON-RPC transport does), so the pipeline adds nothing. `'race'` (default): the
   * pipeline ends an attempt at its timeout even if the function ignores its signal.
   */
  attemptTimeout?: 'race' | 'adapter' | undefined;
  /** Deep-scrubs what leaves through events, state and callbacks (an adapter's secrets); identity when absent. */
  scrub?: (<T>(value: T) => T) | undefined;
  /** What callers call this thing in messages (`client` for createClient). @default 'policy' */
  noun?: string | undefined;
  /** The option an empty operation name is reported as. @default 'name' */
  nameField?: string | undefined;
  /**
   * The name a call is recorded under in telemetry (metric attributes, span name), when the
   * operation's name is built from request data (an unrouted REST path) and would mint a series
   * per request; identity when absent.
   */
  telemetryName?: ((name: string) => string) | undefined;
  /**
   * Turns a successful attempt's value into the call's result (the JSON-RPC adapter reports the
   * answer's identity and returns its `result`), without a promise of its own per call.
   */
  resultOf?: ((value: unknown, attempt: Attempt) => unknown) | undefined;
}

/** An operation's policy with its retry section resolved (computed once per name). */
interface Plan {
  name: string;
  idempotent: boolean;
  retry: ResolvedRetryOptions;
  timeoutMs: number;
  deadlineMs: number;
  retryOnCodes: readonly number[];
}

/** Per-call options the pipeline reads (a superset of ExecuteOptions and the client's CallOptions). */
export interface RunOptions {
  idempotent?: boolean | undefined;
  /** `false`: the call carries no idempotency key (see ExecuteOptions.idempotencyKey). */
  idempotencyKey?: string | false | undefined;
  timeoutMs?: number | undefined;
  deadlineMs?: number | undefined;
  /** A bound from outside (the caller's own deadline): the call ends at the earlier of it and its deadline. */
  outerDeadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
}

/** An attempt function: the context and the adapter's argument (no closure per call). */
export type AttemptFn<A, R> = (context: Attempt, arg: A) => Promise<R> | R;

/** The state of one logical call, shared by its attempts. */
class CallContext<A, R> {
  // Fields are `declare`d and set in the constructor: a class field is defined on every instance
  // before the constructor runs (then assigned again), a cost this per-call object avoids.
  /** Attempts started so far. */
  declare attempts: number;
  // The retry path's state is not set in the constructor: a call that succeeds at once never
  // reads it, and an unset field reads as undefined (these fields are added on first write).
  /** An attempt that may have run is being repeated on learned dedup: later attempts need proof. */
  declare needsDedup: RPCException | undefined;
  /** The latest failure after `needsDedup` was set (the one the next attempt repeats). */
  declare lastFailure: RPCException | undefined;
  /** The proof was refused: this error ends the call. */
  declare refused: RPCException | undefined;
  /** Released from the hold as the trial of an outage without a probe: send once without waiting. */
  declare trial: boolean | undefined;
  /** The call carries no idempotency key (`idempotencyKey: false`): nothing can deduplicate a repeat. */
  declare unkeyed: boolean | undefined;
  /** What the call's waits listen to once the call failed: `signal` and the give-up. */
  declare private waitsValue: AbortSignal | undefined;
  declare private deadlineValue: Deadline | undefined;
  declare readonly plan: Plan;
  declare readonly idempotent: boolean;
  declare readonly fn: AttemptFn<A, R>;
  declare readonly arg: A;
  /** The caller's key, or the generated one once something read it. */
  declare private keyValue: string | undefined;
  declare private readonly newKey: () => string;
  /** The whole-call deadline, ms. */
  declare readonly deadlineMs: number;
  /** Monotonic ms at which the call started (the one clock read of the success path). */
  declare readonly startedAt: number;
  declare readonly timeoutMs: number;
  declare readonly signal: AbortSignal;
  /** The connection's generation when the call started: a give-up after it ends the call. */
  declare readonly generation: number;
  /** Telemetry hooks of this call (only when someone collects). */
  declare observer: CallObserver | undefined;
  /**
   * Adapter mode: aborted by {@link Pipeline.cancelWaits} (the caller cancelled the call), and the
   * registry that finds the call by its adapter's argument. Made when the call first waits.
   */
  declare cancelController: AbortController | undefined;
  declare private cancelLink: { dispose: () => void } | undefined;
  declare private cancelRegistry: Map<unknown, unknown> | undefined;

  constructor(
    plan: Plan,
    idempotent: boolean,
    fn: AttemptFn<A, R>,
    arg: A,
    key: string | undefined,
    newKey: () => string,
    deadlineMs: number,
    startedAt: number,
    timeoutMs: number,
    signal: AbortSignal,
    generation: number,
  ) {
    this.plan = plan;
    this.idempotent = idempotent;
    this.fn = fn;
    this.arg = arg;
    this.keyValue = key;
    this.newKey = newKey;
    this.deadlineMs = deadlineMs;
    this.startedAt = startedAt;
    this.timeoutMs = timeoutMs;
    this.signal = signal;
    this.generation = generation;
    this.attempts = 0;
  }

  /** Monotonic ms at which the deadline passes. */
  get deadlineAt(): number {
    return this.startedAt + this.deadlineMs;
  }

  /** What the call's waits listen to: `signal`, and once the call failed also the give-up. */
  get waits(): AbortSignal {
    return this.waitsValue ?? this.signal;
  }

  set waits(signal: AbortSignal) {
    this.waitsValue = signal;
  }

  /**
   * The call's idempotency key, the same for every attempt: generated on first read, so a call
   * whose attempt function never reads it (an in-memory function, a GET) costs no string.
   */
  get key(): string {
    this.keyValue ??= this.newKey();
    return this.keyValue;
  }

  /** The deadline as the waits and the retry loop use it: made on first use (never on the success path). */
  get deadline(): Deadline {
    this.deadlineValue ??= new Deadline(this.deadlineMs, monotonicNow, this.startedAt);
    return this.deadlineValue;
  }

  /**
   * Adapter mode: from now on the call's waits also end when the adapter cancels it by its
   * argument (`registry`). Only a call that waits pays for this: the success path never does.
   */
  makeCancellable(registry: Map<unknown, unknown>): void {
    if (this.cancelController !== undefined) return;
    const controller = new AbortController();
    this.cancelController = controller;
    const link = linkSignals(this.waits, controller.signal);
    this.cancelLink = link;
    this.waits = link.signal;
    this.cancelRegistry = registry;
    registry.set(this.arg, this);
  }

  /** Clears the deadline's timer, if one was made, and leaves the cancel registry. */
  dispose(): void {
    this.deadlineValue?.dispose();
    const registry = this.cancelRegistry;
    if (registry !== undefined) {
      if (registry.get(this.arg) === this) registry.delete(this.arg);
      this.cancelRegistry = undefined;
      this.cancelLink?.dispose();
    }
  }
}

/**
 * One attempt's context ({@link AttemptContext}). An attempt the pipeline times itself is raced
 * against its timeout and the call's signal through the one-timer registry of attempts in flight.
 */
export class Attempt implements AttemptContext {
  // Declared and set in the constructor (see CallContext): one of these is made per attempt.
  /** What the adapter reported about who answered (and whether the request was written). */
  declare facts: AnswerFacts | undefined;
  /** The attempt's own signal, made on first use (raced attempts only). */
  declare private controller: AbortController | undefined;
  declare private reporter: ((facts: AnswerFacts) => void) | undefined;
  /** A raced attempt's entry in the registry of attempts in flight. */
  declare private timer: AttemptTimer | undefined;
  /** Told when the pipeline ends this attempt (see {@link Attempt.onEnded}). */
  declare private endWatcher: AttemptEndWatcher | undefined;
  /** The operation's name. */
  declare readonly name: string;
  declare readonly attempt: number;
  /** The call's signal (caller's and close()), without this attempt's timeout. */
  declare readonly callSignal: AbortSignal;
  declare readonly timeoutMs: number;
  declare readonly deadlineLeftMs: number;
  /** Where the call's key comes from (read lazily, see {@link CallContext.key}). */
  declare private readonly keys: { readonly key: string };
  declare readonly backend: string;
  /** The connection's generation when the attempt was sent (stale reports are ignored). */
  declare readonly generation: number;
  /** Monotonic ms at which the attempt was sent. */
  declare readonly sentAt: number;
  /** The pipeline times this attempt (its `signal` then aborts at its timeout too). */
  declare private readonly raced: boolean;

  constructor(
    name: string,
    attempt: number,
    callSignal: AbortSignal,
    timeoutMs: number,
    deadlineLeftMs: number,
    keys: { readonly key: string },
    backend: string,
    generation: number,
    sentAt: number,
    raced: boolean,
  ) {
    this.name = name;
    this.attempt = attempt;
    this.callSignal = callSignal;
    this.timeoutMs = timeoutMs;
    this.deadlineLeftMs = deadlineLeftMs;
    this.keys = keys;
    this.backend = backend;
    this.generation = generation;
    this.sentAt = sentAt;
    this.raced = raced;
    this.facts = undefined;
    this.controller = undefined;
    this.reporter = undefined;
    this.timer = undefined;
    this.endWatcher = undefined;
  }

  /** The same on every attempt of one logical call. */
  get idempotencyKey(): string {
    return this.keys.key;
  }

  /** Made on first use: an attempt function that never reads it costs no AbortController. */
  get signal(): AbortSignal {
    if (!this.raced) return this.callSignal;
    if (this.controller === undefined) {
      this.controller = new AbortController();
      const ended = this.timer?.ended;
      if (ended !== undefined) this.controller.abort(ended);
      else if (this.callSignal.aborted) this.controller.abort(abortError(this.callSignal.reason));
    }
    return this.controller.signal;
  }

  /**
   * Bound to this attempt, so `({ report }) => report(…)` works destructured; made on first use
   * (the JSON-RPC adapter never asks for it).
   */
  get report(): (facts: AnswerFacts) => void {
    this.reporter ??= (facts: AnswerFacts): void => this.addFacts(facts);
    return this.reporter;
  }

  /**
   * Merges what the adapter reported into this attempt's own facts object (a field given, even
   * as undefined, replaces the one known), without an object spread per report: evidence is
   * reported up to three times per attempt. Internal: `report` without its closure (the fields
   * are copied, so an adapter may pass the same object every time).
   */
  addFacts(facts: AnswerFacts): void {
    let own = this.facts;
    if (own === undefined) {
      own = { node: undefined, epoch: undefined, dedup: undefined, written: undefined };
      this.facts = own;
    }
    if ('node' in facts) own.node = facts.node;
    if ('epoch' in facts) own.epoch = facts.epoch;
    if ('dedup' in facts) own.dedup = facts.dedup;
    if ('written' in facts) own.written = facts.written;
  }

  /** Runs `pending` against this attempt's timeout and the call's signal (one timer per pipeline). */
  race<R>(pending: PromiseLike<R>, inflight: RacedAttempts, closing: AbortSignal): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const timer = new AttemptTimer(this, this.sentAt + this.timeoutMs, reject);
      this.timer = timer;
      if (this.callSignal.aborted) {
        // Aborted, or closed, while the function ran its synchronous part: no abort listener
        // would hear it any more, and close() has already ended the attempts it knew of.
        timer.abort(this.callSignal.reason);
        pending.then(undefined, ignoreLateOutcome);
        return;
      }
      inflight.add(timer);
      // close() ends the attempts on the pipeline's own signal (RacedAttempts.abortAll); a
      // caller's signal is the call's own (linked per call), so one listener on it costs O(1).
      const signal = this.callSignal === closing ? undefined : this.callSignal;
      const onAbort = signal === undefined ? undefined : (): void => {
        inflight.delete(timer);
        timer.abort(signal.reason);
      };
      if (signal !== undefined && onAbort !== undefined) signal.addEventListener('abort', onAbort, { once: true });
      pending.then(
        (value) => {
          inflight.delete(timer);
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          if (timer.settle()) resolve(value);
        },
        (error: unknown) => {
          inflight.delete(timer);
          if (onAbort !== undefined) signal?.removeEventListener('abort', onAbort);
          if (timer.settle()) reject(error);
        },
      );
    });
  }

  /**
   * Internal, for adapters (hotcold/axios): `watcher` hears once, with the error `signal` would
   * abort with, when the pipeline ends this attempt from outside (its timeout, the call's abort,
   * close()) — the notice `signal` gives, without an AbortController per attempt for an adapter
   * that can end its exchange by other means. At once if that already happened. False when the
   * pipeline does not time this attempt (`attemptTimeout: 'adapter'`): then `signal` is the notice.
   */
  onEnded(watcher: AttemptEndWatcher): boolean {
    if (!this.raced) return false;
    // As `signal` does on first use: an attempt already ended, or a call already aborted, is told at once.
    const ended = this.timer?.ended;
    if (ended !== undefined) watcher.attemptEnded(ended);
    else if (this.callSignal.aborted) watcher.attemptEnded(abortError(this.callSignal.reason));
    else this.endWatcher = watcher;
    return true;
  }

  /** The attempt's timeout passed or the call's signal aborted: its signal aborts too. */
  ended(error: Error): void {
    this.controller?.abort(error);
    const watcher = this.endWatcher;
    this.endWatcher = undefined;
    watcher?.attemptEnded(error);
  }
}

/** What {@link Attempt.onEnded} tells (an object, so an adapter needs no closure per attempt). */
export interface AttemptEndWatcher {
  attemptEnded(error: Error): void;
}

/** A raced attempt's entry in the registry of attempts in flight; settles it from outside. */
class AttemptTimer implements RacedEntry {
  /** Why the attempt was ended from outside, if it was. */
  ended: Error | undefined = undefined;
  prev: RacedEntry | undefined = undefined;
  next: RacedEntry | undefined = undefined;
  linked = false;
  private open = true;

  constructor(
    private readonly attempt: Attempt,
    readonly expiresAt: number,
    private readonly fail: (error: unknown) => void,
  ) {}

  /** The function settled first: true if the attempt was still open. */
  settle(): boolean {
    if (!this.open) return false;
    this.open = false;
    return true;
  }

  expire(): void {
    this.end(timeoutError(this.attempt.timeoutMs));
  }

  abort(reason: unknown): void {
    this.end(abortError(reason));
  }

  private end(error: Error): void {
    if (!this.open) return;
    this.open = false;
    this.ended = error;
    this.attempt.ended(error);
    this.fail(error);
  }
}

function timeoutError(timeoutMs: number): Error {
  return new DOMException(`attempt timed out after ${Math.round(timeoutMs)} ms`, 'TimeoutError');
}

function abortError(reason: unknown): Error {
  const error = new DOMException('attempt aborted', 'AbortError');
  if (reason !== undefined) Object.defineProperty(error, 'cause', { value: reason, enumerable: false });
  return error;
}

/** What an attempt's function settles with after the pipeline ended the attempt: nobody waits for it. */
function ignoreLateOutcome(): void {}

function isThenable<R>(value: unknown): value is PromiseLike<R> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * The protocol-neutral pipeline. `createPolicy` exposes it as a {@link Policy}; `createClient`
 * runs JSON-RPC calls on it. Not public: its shape may change.
 */
export class Pipeline {
  readonly state$: Observable<ConnectionState>;
  readonly events$: Observable<PolicyEvent>;
  readonly failover$: Observable<FailoverEvent>;
  readonly reconnected$: Observable<ReconnectedEvent>;
  readonly monitor: ConnectionMonitor;

  private readonly events = new Subject<PolicyEvent>();
  private readonly failovers = new Subject<FailoverEvent>();
  private readonly reconnections = new Subject<ReconnectedEvent>();
  private readonly budget: RetryBudget;
  private readonly breakers: CircuitBreakers;
  private readonly retry: ResolvedRetryOptions;
  private readonly plans = new Map<string, Plan>();
  /** The plan of the latest call. */
  private lastPlan: Plan | undefined = undefined;
  private readonly newKey: () => string;
  private readonly serverDeduplicates: boolean;
  private readonly classify: (error: unknown, context: ClassifyContext, attempt: Attempt) => RPCException;
  private readonly raced: boolean;
  private readonly noun: string;
  private readonly scrubValue: (<T>(value: T) => T) | undefined;
  private readonly resultOf: ((value: unknown, attempt: Attempt) => unknown) | undefined;
  /** Attempts the pipeline times itself: one timer for all of them. */
  private readonly inflight = new RacedAttempts();
  /** Aborted by close(): every attempt and backoff sleep listens to it (or to a signal linked to it). */
  private readonly closing = new AbortController();
  /**
   * Adapter mode: the calls that wait (held, in a backoff, for the breaker), by the argument their
   * adapter ran them with, so that a caller's cancel ends their waits ({@link cancelWaits}).
   */
  private readonly waitingCalls = new Map<unknown, unknown>();
  /**
   * `closing.signal`, read once: AbortController's getter checks its receiver on every read.
   * Aborted by close(): an adapter that times its own attempts (`attemptTimeout: 'adapter'`)
   * ends the attempts it has in flight on it.
   */
  readonly closingSignal: AbortSignal = this.closing.signal;
  /** The callers' own signals, one listener on each for all the calls that share it; aborted by close(). */
  private readonly callerSignals = new SignalFanout(this.closingSignal);
  private closedFlag = false;
  private closePromise: Promise<void> | undefined;
  private readonly dedupFacts = new DedupFacts();
  /** The adapter's dedup ask, one at a time per backend for all the calls that need proof. */
  private readonly dedupAsk: SharedDedupAsk | undefined;
  private readonly pacing = new BackendPacing();
  /** Telemetry hooks; undefined when nobody collects (see observability/enabled.ts). */
  private readonly observer: PipelineObserver | undefined;
  /** The hooks of the call being started, lent to its CallContext. */
  private observing: CallObserver | undefined;
  /** Failures, retries and state changes only: nothing on a call's success path. */
  private readonly log: Log;

  constructor(
    private readonly options: ResolvedPipelineOptions,
    private readonly hooks: PipelineHooks,
  ) {
    this.log = new Log(options.logger, hooks.noun ?? 'policy');
    this.retry = resolveRetryOptions(options.retry, 'retry');
    this.budget = createRetryBudget(resolveBudgetOptions(options.budget, 'budget'), monotonicNow);
    for (const [name, settings] of options.methods) this.plans.set(name, this.planFor(name, settings));
    this.serverDeduplicates = options.serverDeduplicates;
    this.newKey = options.idempotencyKey ?? keyGenerator();
    this.classify = hooks.classify;
    this.raced = hooks.attemptTimeout !== 'adapter';
    this.noun = hooks.noun ?? 'policy';
    this.scrubValue = hooks.scrub;
    this.resultOf = hooks.resultOf;
    this.dedupAsk = hooks.proveDedup === undefined ? undefined : new SharedDedupAsk(hooks.proveDedup, options.reconnect.probeTimeoutMs);
    setMaxListeners(0, this.closing.signal);

    this.breakers = new CircuitBreakers(resolveBreakerOptions(options.breaker, 'breaker'), {
      onStateChange: (event) => {
        this.observer?.breakerChanged(event.backend, event.state, event.cause);
        this.emit(breakerEvent(event));
      },
    });

    const scrubbed = <T>(callback: ((info: T) => void) | undefined): ((info: T) => void) | undefined =>
      callback && ((info: T) => callback(this.scrub(info)));
    this.monitor = new ConnectionMonitor({
      backends: options.backends,
      labels: hooks.labels,
      probe: hooks.probe,
      minDelayMs: options.reconnect.minDelayMs,
      maxDelayMs: options.reconnect.maxDelayMs,
      probeTimeoutMs: options.reconnect.probeTimeoutMs,
      maxReconnectAttempts: options.maxReconnectAttempts,
      maxPending: options.maxPending,
      emit: (event) => this.emit(event),
      listening: () => this.events.observed || this.log.enabled,
      onFailover: (event) => this.failovers.next(this.scrub(event)),
      onReconnected: (event) => {
        this.observer?.outageEnded(event.outageMs, 'recovered');
        this.reconnections.next(this.scrub(event));
      },
      onGaveUp: (outageMs) => this.observer?.outageEnded(outageMs, 'gave-up'),
      onHeld: (delta) => this.observer?.heldChanged(delta),
      // The Log redacts what looks like a credential; an error's text may also quote the
      // adapter's own secrets with nothing around them to recognise, so it is scrubbed of those too.
      onCallbackError: (callback, error) =>
        // The user's own callback failed and nobody else will say so: stderr without a logger.
        this.log.fault('warn', { callback, error: this.scrub(describeThrown(error)) }, `${callback} callback threw; ignored`),
      onProbeError: (backend, error) => {
        if (this.log.enabled) this.log.debug({ backend, error: this.scrub(describeThrown(error)) }, 'health probe failed');
      },
      onIdentityChange: (backend, identity) => {
        this.breakers.observeIdentity(backend, identity.node, identity.epoch);
        // Learned facts belong to the node and term that stated them (issue 8 §1).
        this.dedupFacts.forget(backend);
        this.pacing.forget(backend);
      },
      pacing: {
        wait: (backend, signal) => this.pacing.wait(backend, signal),
        defer: (backend, delayMs) => this.pacing.defer(backend, delayMs, this.retry.maxRetryAfterMs),
      },
      // What a server sent reaches callbacks and observables only scrubbed of the adapter's secrets.
      onDisconnect: scrubbed(options.onDisconnect),
      onReconnect: scrubbed(options.onReconnect),
      onPermanentFailure: scrubbed(options.onPermanentFailure),
    });

    this.state$ = this.scrubValue === undefined ? this.monitor.state$.asObservable() : this.monitor.state$.pipe(map((state) => this.scrub(state)));
    this.events$ = this.events.asObservable();
    this.failover$ = this.failovers.asObservable();
    this.reconnected$ = this.reconnections.asObservable();
    this.observer = observePipeline(options.telemetry, { labels: this.monitor.labels, scrub: (text) => this.scrub(text) });
  }

  get state(): ConnectionState {
    return this.scrub(this.monitor.state$.value);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  private scrub<T>(value: T): T {
    return this.scrubValue === undefined ? value : this.scrubValue(value);
  }

  /**
   * Adapter mode: the caller cancelled the call run with `arg` (a per-call object of the
   * adapter): it leaves the reconnect hold, its backoff sleep or its breaker wait at once, so it
   * no longer counts against `maxPending` nor waits out its deadline. A call not waiting (its
   * attempt in flight, or done) is not found: the adapter ends its attempt and refuses the next.
   */
  cancelWaits(arg: unknown, reason: unknown): void {
    (this.waitingCalls.get(arg) as CallContext<unknown, unknown> | undefined)?.cancelController?.abort(reason);
  }

  /**
   * Runs one logical call named `name`: `fn(attempt, arg)` per attempt. Rejects with one
   * RPCException (or a ConfigurationError for bad per-call options).
   */
  run<A, R>(fn: AttemptFn<A, R>, arg: A, name: string, options: RunOptions | undefined): Promise<R> {
    const observer = this.observer;
    if (observer !== undefined && this.observing === undefined) return this.runObserved(observer, fn, arg, name, options);
    const signal = options?.signal;
    if (signal !== undefined && !isAbortSignalLike(signal)) {
      return Promise.reject(new ConfigurationError('signal', 'must be an AbortSignal'));
    }
    if (signal !== undefined && !signal.aborted) return this.runLinked(fn, arg, name, options, signal);
    try {
      return this.runWith(fn, arg, name, options, this.closingSignal);
    } catch (error) {
      return Promise.reject(error);
    }
  }

  /** A call with telemetry: run inside the observer's call (its span's context), its hooks lent to the call. */
  private runObserved<A, R>(observer: PipelineObserver, fn: AttemptFn<A, R>, arg: A, name: string, options: RunOptions | undefined): Promise<R> {
    const recorded = this.hooks.telemetryName === undefined || typeof name !== 'string' ? name : this.hooks.telemetryName(name);
    return observer.call(recorded, (call) => {
      this.observing = call;
      try {
        return this.run(fn, arg, name, options);
      } finally {
        this.observing = undefined;
      }
    });
  }

  /**
   * A call with the caller's signal: a signal of its own that aborts with the caller's or at
   * close(), for its duration. Callers often share one signal among many calls: the fan-out keeps
   * one listener on it for all of them (see shared/signal-fanout.ts).
   */
  private async runLinked<A, R>(fn: AttemptFn<A, R>, arg: A, name: string, options: RunOptions | undefined, signal: AbortSignal): Promise<R> {
    const link = this.callerSignals.link(signal);
    try {
      return await this.runWith(fn, arg, name, options, link.signal);
    } finally {
      link.dispose();
    }
  }

  /**
   * Starts the call: attempt 1 at once when nothing waits (the success path: no async frame of
   * its own, the attempt's promise is the only one awaited), the retry path after a failure.
   * Throws synchronously for bad per-call options and a closed pipeline ({@link run} rejects).
   */
  private runWith<A, R>(fn: AttemptFn<A, R>, arg: A, name: string, options: RunOptions | undefined, signal: AbortSignal): Promise<R> {
    if (this.closedFlag) throw new ClientClosedException(`${this.noun} is closed`, { method: name });
    if (typeof name !== 'string' || name.length === 0) throw new ConfigurationError(this.hooks.nameField ?? 'name', 'must be a non-empty string');
    // Callers mostly repeat one name: the last plan answers without a hash lookup.
    const last = this.lastPlan;
    const plan = last !== undefined && last.name === name ? last : (this.plans.get(name) ?? this.planForUnlisted(name));
    this.lastPlan = plan;
    const context = this.startCall(plan, fn, arg, options, signal);
    if (this.observing !== undefined) {
      context.observer = this.observing;
      this.observing = undefined;
    }
    // The call's one clock reading, lent to the budget.
    this.budget.recordCall(context.startedAt);
    let permit: BreakerPermit | undefined;
    try {
      permit = this.admitAtOnce(context);
    } catch (error) {
      return this.afterFailure(context, error);
    }
    if (permit === undefined) {
      // Attempt 1 waits (held, paced, breaker): an adapter's cancel must be able to end that wait.
      if (!this.raced) context.makeCancellable(this.waitingCalls);
      return this.attempt(context, 1).then(
        (value) => {
          context.dispose();
          return value;
        },
        (error: unknown) => this.afterFailure(context, error),
      );
    }
    // The success path: attempt 1 sent when the call started (the clock read it already paid).
    const attempt = this.startAttempt(context, 1, context.startedAt, context.deadlineMs);
    const admitted = permit;
    let result: R | PromiseLike<R>;
    try {
      result = this.invoke(context, attempt);
    } catch (error) {
      return this.afterFailure(context, this.failed(context, attempt, admitted, error));
    }
    // A native promise (the common case) skips the duck-typed thenable check.
    const pending = result instanceof Promise ? (result as Promise<R>) : isThenable<R>(result) ? Promise.resolve(result) : undefined;
    if (pending === undefined) return Promise.resolve(this.succeeded(attempt, admitted, result as R));
    return pending.then(
      (value: R) => this.succeeded(attempt, admitted, value),
      (error: unknown) => this.afterFailure(context, this.failed(context, attempt, admitted, error)),
    );
  }

  /** The call after attempt 1 failed with `first`: the retry loop (or the error, for a single attempt). */
  private async afterFailure<A, R>(context: CallContext<A, R>, first: unknown): Promise<R> {
    const plan = context.plan;
    const name = plan.name;
    const monitor = this.monitor;
    // A single-attempt operation (retry: false) fails with its own error, not a wrapper around it.
    if (plan.retry.maxAttempts === 1 && !context.signal.aborted) {
      this.leaveTrial(context);
      context.dispose();
      throw this.finalError(first, name);
    }
    // From here on a give-up of the connection ends the call wherever it waits (and, for an
    // adapter, the caller's cancel: see cancelWaits).
    if (!this.raced) context.makeCancellable(this.waitingCalls);
    const waits = linkSignals(context.waits, monitor.giveUpSignal);
    context.waits = waits.signal;
    try {
      return await retryAfterFailure(first, (n) => this.attempt(context, n), {
        retry: plan.retry,
        rules: (error: unknown): RetryVerdict => {
          // The proof was asked for and refused: final.
          if (error === context.refused) return { retry: false, reason: 'may-have-executed' };
          const verdict = decideRetry(error, {
            idempotent: context.idempotent,
            retryOnCodes: plan.retryOnCodes,
            hasIdempotencyKey: context.unkeyed !== true,
            // Provisional: a deployment seen deduplicating, or not heard from yet, is asked for
            // proof before the repeat goes out (requireDedupProof); one seen answering without
            // it is not asked.
            serverDeduplicates: this.serverDeduplicates || this.worthProving(this.monitor.backend),
            whenOpen: this.breakers.whenOpen,
          });
          // Sticky: once an attempt may have run, every later one needs the proof.
          if (verdict.retry && verdict.reason === 'deduplicated' && !this.serverDeduplicates) context.needsDedup = error as RPCException;
          else if (context.needsDedup !== undefined && isRPCException(error)) context.lastFailure = error;
          return verdict;
        },
        budget: this.budget,
        deadline: context.deadline,
        signal: context.waits,
        method: name,
        onRetry: (event) => {
          context.observer?.retrying(event.attempt, event.delayMs, event.reason);
          this.emitRetry(name, event);
        },
        onBudgetExhausted: () => {
          context.observer?.budgetRefused();
          this.emit({ type: 'budget-exhausted', method: name, attempt: context.attempts });
        },
        outage: {
          current: () => (monitor.holding ? monitor.generation : undefined),
          over: async (waits) => {
            const outcome = await monitor.waitForService(context.deadline.at, waits);
            if (outcome === 'trial') context.trial = true;
            return outcome === 'ready' || outcome === 'trial';
          },
          confirmed: (generation) => monitor.outageConfirmed(generation),
        },
      });
    } catch (error) {
      throw this.finalError(error, name);
    } finally {
      this.leaveTrial(context);
      waits.dispose();
      context.dispose();
    }
  }

  /**
   * The call ends holding the trial of an outage without a probe that it never sent (its caller
   * cancelled it, its deadline came, the retry loop ended it while it waited for pacing, proof or
   * the breaker): that is no failed probe — the next held call gets the trial.
   */
  private leaveTrial<A, R>(context: CallContext<A, R>): void {
    if (context.trial !== true) return;
    context.trial = false;
    this.monitor.trialAbandoned(this.monitor.generation);
  }

  private startCall<A, R>(plan: Plan, fn: AttemptFn<A, R>, arg: A, options: RunOptions | undefined, signal: AbortSignal): CallContext<A, R> {
    if (
      options === undefined ||
      (options.idempotencyKey === undefined &&
        options.deadlineMs === undefined &&
        options.outerDeadlineMs === undefined &&
        options.timeoutMs === undefined &&
        options.signal === undefined &&
        options.idempotent === undefined)
    ) {
      return new CallContext(plan, plan.idempotent, fn, arg, undefined, this.newKey, plan.deadlineMs, monotonicNow(), plan.timeoutMs, signal, this.monitor.generation);
    }
    // `false`: no key goes out with this call. One is still made if an attempt reads it
    // (AttemptContext promises a string), but no repeat of an attempt that may have run relies on it.
    const own = options.idempotencyKey;
    const keyed = own !== false;
    const key = own === false ? undefined : own;
    if (key !== undefined && (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || /[^\x21-\x7e]/.test(key))) {
      throw new ConfigurationError('idempotencyKey', `must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`);
    }
    let deadlineMs = options.deadlineMs ?? plan.deadlineMs;
    const timeoutMs = options.timeoutMs ?? plan.timeoutMs;
    requireMs('deadlineMs', deadlineMs);
    requireMs('timeoutMs', timeoutMs);
    const outer = options.outerDeadlineMs;
    if (outer !== undefined) {
      // Two bounds on one call (the caller's own deadline, and this call's deadlineMs or its
      // operation's or the policy's): the earlier ends it. A looser one never replaces a tighter.
      if (typeof outer !== 'number' || Number.isNaN(outer)) throw new ConfigurationError('outerDeadlineMs', 'must be a number of milliseconds (Infinity: none)');
      if (outer <= 0) {
        throw new DeadlineExceededException(`${plan.name}: the caller's deadline had passed before the call began`, { method: plan.name, attempts: 0, mayHaveExecuted: false });
      }
      if (outer < deadlineMs) deadlineMs = outer;
    }
    if (options.idempotent !== undefined && typeof options.idempotent !== 'boolean') throw new ConfigurationError('idempotent', 'must be a boolean');
    const callSignal = options.signal?.aborted === true ? options.signal : signal;
    const context = new CallContext(plan, options.idempotent ?? plan.idempotent, fn, arg, key, this.newKey, deadlineMs, monotonicNow(), timeoutMs, callSignal, this.monitor.generation);
    if (!keyed) context.unkeyed = true;
    return context;
  }

  /**
   * Attempt 1 of a call started while nothing waits (the success path): the breaker's permit
   * taken synchronously, or undefined when the call must take the waits of {@link attempt}.
   * No clock read, no await before the function runs.
   */
  private admitAtOnce<A, R>(context: CallContext<A, R>): BreakerPermit | undefined {
    const monitor = this.monitor;
    // The pipeline's own signal is not aborted here (runWith checked closedFlag, which close() sets first).
    const signal = context.signal;
    if (monitor.holding || !this.pacing.idle || (signal !== this.closingSignal && signal.aborted)) return undefined;
    const breakers = this.breakers;
    const closed = breakers.closedPermitFor(monitor.backend);
    if (closed !== undefined) return closed;
    try {
      return breakers.admit(monitor.backend, context.plan.name);
    } catch (error) {
      // Open, or half-open with its trial taken: with whenOpen 'wait' attempt() waits for the trial slot.
      if (breakers.whenOpen !== 'wait') throw error;
      return undefined;
    }
  }

  /** Attempt `n` after the waits: reconnect hold, pacing, dedup proof, breaker. */
  private async attempt<A, R>(context: CallContext<A, R>, n: number): Promise<R> {
    context.attempts = n;
    const monitor = this.monitor;
    const method = context.plan.name;
    const breakers = this.breakers;
    let permit: BreakerPermit;
    // Until a permit is taken while no outage is known: an outage that begins while the call
    // waits for the breaker sends it back to the hold instead of out into the outage.
    for (;;) {
      if (monitor.gaveUpSince(context.generation)) throw this.waitError('failed', context, n);
      if (monitor.holding && context.trial !== true) {
        const outcome = await monitor.waitForService(context.deadline.at, context.waits);
        if (outcome === 'trial') context.trial = true;
        else if (outcome !== 'ready') throw this.waitError(outcome, context, n);
      }
      if (!this.pacing.idle) await this.waitForPacing(context, n);
      if (context.needsDedup !== undefined) await this.requireDedupProof(context, n);
      if (context.deadline.remaining() <= 0) {
        throw new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed`, { method, attempts: n - 1 });
      }
      const backend = monitor.backend;
      if (breakers.whenOpen === 'wait') {
        try {
          permit = await breakers.acquire(backend, { signal: context.waits, deadline: context.deadline, method });
        } catch (error) {
          // An abort while waiting for the breaker surfaces the signal's own reason: make it ours.
          if (isRPCException(error)) throw error;
          throw new CallAbortedException('call aborted while waiting for the circuit breaker', { method, attempts: n - 1, cause: error });
        }
        if ((monitor.holding && context.trial !== true) || monitor.gaveUpSince(context.generation)) {
          permit.release();
          continue;
        }
      } else {
        permit = breakers.admit(backend, method);
      }
      break;
    }
    context.trial = false;
    const attempt = this.startAttempt(context, n, monotonicNow());
    try {
      const value = await this.invoke(context, attempt);
      return this.succeeded(attempt, permit, value);
    } catch (error) {
      throw this.failed(context, attempt, permit, error);
    }
  }

  /**
   * The one place an attempt is made (attempt 1 at once, and every attempt after the waits):
   * its timeout is the operation's, cut to what is left of the deadline at `sentAt`.
   */
  private startAttempt<A, R>(context: CallContext<A, R>, n: number, sentAt: number, left = context.deadlineAt - sentAt): Attempt {
    context.attempts = n;
    const monitor = this.monitor;
    const timeoutMs = context.timeoutMs < left ? context.timeoutMs : left;
    if (this.events.observed) this.emit({ type: 'attempt', method: context.plan.name, attempt: n, backend: monitor.label });
    context.observer?.attemptStarted(n, monitor.label);
    return new Attempt(context.plan.name, n, context.signal, timeoutMs, left, context, monitor.backend, monitor.generation, sentAt, this.raced);
  }

  /** Runs the function for `attempt` (raced against its timeout unless the adapter times it). */
  private invoke<A, R>(context: CallContext<A, R>, attempt: Attempt): R | PromiseLike<R> {
    if (this.raced && context.signal.aborted) {
      // Nothing is started for a call already aborted (an adapter checks its own signal).
      throw new CallAbortedException('call aborted before the attempt started', {
        method: context.plan.name,
        attempts: attempt.attempt - 1,
        mayHaveExecuted: false,
        cause: context.signal.reason,
      });
    }
    const result = context.fn(attempt, context.arg);
    return this.raced && isThenable<R>(result) ? attempt.race(result, this.inflight, this.closingSignal) : result;
  }

  private succeeded<R>(attempt: Attempt, permit: BreakerPermit, value: R): R {
    permit.success();
    const out = this.resultOf === undefined ? value : (this.resultOf(value, attempt) as R);
    this.answered(attempt.backend, attempt.facts, attempt.generation);
    return out;
  }

  private failed<A, R>(context: CallContext<A, R>, attempt: Attempt, permit: BreakerPermit, error: unknown): RPCException {
    const failure = isRPCException(error) ? error : this.notTheCallersAbort(this.classifyFailure(error, context, attempt.attempt, attempt), context, attempt.attempt, error);
    const left = attempt.deadlineLeftMs;
    const outcome = this.attemptFailed(failure, attempt.backend, attempt.generation, context, attempt.attempt, context.timeoutMs >= left, attempt.sentAt + attempt.timeoutMs, attempt.facts);
    // The breaker hears the attempt's outcome as the call ends it: an attempt cut short by the
    // call's own deadline (DeadlineExceeded) says nothing of the backend and is not counted.
    permit.failure(outcome);
    context.observer?.attemptFailed(attempt.attempt, outcome);
    return outcome;
  }

  private classifyFailure<A, R>(error: unknown, context: CallContext<A, R>, n: number, attempt: Attempt): RPCException {
    try {
      const classified = this.classify(error, { name: context.plan.name, attempt: n, backend: attempt.backend, written: attempt.facts?.written }, attempt);
      if (isRPCException(classified)) return classified;
    } catch {
      // A classifier that throws is a bug in it: the outcome stays unknown.
    }
    return new UnknownOutcomeException(`${context.plan.name}: attempt ${n} failed and was not classified`, {
      method: context.plan.name,
      attempts: n,
      cause: error,
    });
  }

  /**
   * A thrown error classified as CallAborted (an `AbortError`, axios `ERR_CANCELED`, gRPC
   * `CANCELLED`) while neither the caller nor close() ended the call, and the pipeline did not end
   * the attempt (its own timeout or abort settles the attempt with its own error first): the
   * cancellation came from the other side — a server that answered CANCELLED, a proxy that reset
   * the stream (RST_STREAM CANCEL reads as CANCELLED in grpc-js) — or from the attempt function's
   * own timer. It says nothing of the caller: an outcome unknown (retried as such, told to the
   * monitor and the breaker), not run only on the adapter's `written: false`.
   */
  private notTheCallersAbort<A, R>(failure: RPCException, context: CallContext<A, R>, n: number, error: unknown): RPCException {
    if (failure.kind !== 'call-aborted' || this.abortedByCaller(context)) return failure;
    const message = `${context.plan.name}: attempt ${n} was cancelled, not by its caller (the server, a proxy or the attempt itself): ${failure.message}`;
    const options = { method: context.plan.name, attempts: n, node: failure.node, epoch: failure.epoch, doNotRetry: failure.doNotRetry, cause: error };
    return failure.mayHaveExecuted ? new UnknownOutcomeException(message, options) : new ConnectionFailureException(message, options);
  }

  /** A node answered: remember who it is, then whether it deduplicates (after: a failover forgets). */
  private answered(backend: string, facts: AnswerFacts | undefined, generation: number): void {
    const monitor = this.monitor;
    const node = facts?.node;
    const epoch = facts?.epoch;
    const dedup = facts?.dedup === true;
    // The common answer: the node known to serve, in a settled connection, stating nothing new.
    if (monitor.isSettledOn(node, epoch)) {
      this.dedupFacts.record(backend, node, epoch, dedup);
      return;
    }
    if (!monitor.isServing(node, epoch)) this.breakers.observeIdentity(backend, node, epoch);
    monitor.reportAnswer(node, epoch, generation);
    this.dedupFacts.record(backend, node, epoch, dedup);
  }

  /**
   * Whether a maybe-failed keyed call should ask `backend` for proof of dedup. Not only where some
   * node advertised it: a client that has had no answer yet (its first calls all cut by a planned
   * switchover or a stall) knows nothing, and giving up would cost every one of those calls
   * although the proof may well hold. Only with an ask to prove it with.
   */
  private worthProving(backend: string): boolean {
    const facts = this.dedupFacts;
    return facts.wasAdvertised(backend) || (this.hooks.proveDedup !== undefined && facts.isUnknown(backend));
  }

  /** A call that may have run is repeated only on proof that the receiving node deduplicates. */
  private async requireDedupProof<A, R>(context: CallContext<A, R>, n: number): Promise<void> {
    const maybe = context.needsDedup as RPCException;
    const monitor = this.monitor;
    const ask = this.dedupAsk?.ask;
    for (;;) {
      const remaining = context.deadline.remaining();
      const proof =
        ask === undefined
          ? 'not-proven'
          : await proveDeduplication({
              monitor,
              facts: this.dedupFacts,
              ask,
              probeTimeoutMs: Math.min(this.options.reconnect.probeTimeoutMs, Math.max(1, remaining)),
              deadlineMs: Math.max(1, remaining),
              // The call's waits, not only its signal: an adapter's cancel (cancelWaits) ends the ask too.
              signal: context.waits,
              onBackPressure: this.onProofPaced,
            });
      context.lastFailure = undefined;
      if (proof === 'proven') return;
      if (proof === 'left') {
        // The call's waits ended the ask (the caller's cancel, close(), a give-up), or its deadline
        // did: the call ends so, and the ask counts as nothing — no outage is announced for it.
        if (!context.waits.aborted) {
          throw new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed while asking for proof of deduplication`, {
            method: context.plan.name,
            attempts: n - 1,
            node: maybe.node,
            epoch: maybe.epoch,
            mayHaveExecuted: maybe.mayHaveExecuted,
            cause: maybe,
          });
        }
        const reason: unknown = context.waits.reason;
        if (isRPCException(reason) && !context.signal.aborted) throw reason;
        throw new CallAbortedException('call aborted while asking for proof of deduplication', { method: context.plan.name, attempts: n - 1, cause: reason });
      }
      if (proof === 'not-proven') {
        // A deployment that never advertised dedup was asked only because nothing was known of it
        // (worthProving): the call ends with its own failure, as if it had not been asked.
        if (!this.dedupFacts.wasAdvertised(monitor.backend)) {
          context.refused = maybe;
          throw maybe;
        }
        context.refused = new UnknownOutcomeException(
          `${context.plan.name}: not repeated: the node now serving did not advertise deduplication in its term`,
          { method: context.plan.name, attempts: n - 1, node: maybe.node, epoch: maybe.epoch, cause: maybe },
        );
        throw context.refused;
      }
      if (proof === 'paced') {
        // The node is alive and asked for a pause (a 429): no outage. Wait it out — its
        // Retry-After paces the backend, as an attempt's 429 does — and ask again; without one,
        // the reconnect delay. The deadline and the call's waits bound this like any wait.
        if (this.pacing.delayFor(monitor.backend) > 0) await this.waitForPacing(context, n);
        else await this.pauseBeforeAsking(context, n);
        continue;
      }
      // No active node answered: an outage. Wait in the hold like any call, then ask again.
      const noService = new ConnectionFailureException(`${context.plan.name}: no active node to confirm deduplication with`, {
        method: context.plan.name,
        attempts: n - 1,
      });
      monitor.reportConnectionFailure(noService, monitor.generation);
      if (!monitor.holding) throw noService; // the monitor has given up: the retry loop decides
      // A hold like attempt()'s: it ends on what the call's waits listen to (a give-up, an
      // adapter's cancel), or a cancelled call would keep its maxPending place until its deadline.
      const outcome = await monitor.waitForService(context.deadline.at, context.waits);
      if (outcome !== 'ready' && outcome !== 'trial') throw this.waitError(outcome, context, n);
    }
  }

  /** A proof ask was answered 429: the pause it named paces the backend, as an attempt's would. */
  private readonly onProofPaced = (backend: string, retryAfterMs: number | undefined): void => {
    if (retryAfterMs !== undefined) this.pacing.defer(backend, retryAfterMs, this.retry.maxRetryAfterMs);
  };

  /** A proof ask got a 429 without Retry-After: wait `reconnect.minDelayMs` before asking again, within the deadline. */
  private async pauseBeforeAsking<A, R>(context: CallContext<A, R>, n: number): Promise<void> {
    const pause = this.options.reconnect.minDelayMs;
    if (pause >= context.deadline.remaining()) {
      throw new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms would pass while the server asks for a pause (429)`, {
        method: context.plan.name,
        attempts: n - 1,
        mayHaveExecuted: false,
      });
    }
    try {
      await sleep(pause, context.waits);
    } catch (error) {
      if (isRPCException(error)) throw error;
      throw new CallAbortedException('call aborted while the server asked for a pause (429)', { method: context.plan.name, attempts: n - 1, cause: error });
    }
  }

  /** Back-pressure: wait for the backend's "not before" time, or fail now if the deadline comes first. */
  private async waitForPacing<A, R>(context: CallContext<A, R>, n: number): Promise<void> {
    const backend = this.monitor.backend;
    // Checked again after every sleep: another 429, answered while this call waits, may push the
    // backend's "not before" time further out — past this call's deadline.
    // The operation's own retry.maxRetryAfterMs bounds this call's wait (methods' retry overrides
    // the policy's): the backend's pause is capped only by the policy's, for every other call.
    const cap = context.plan.retry.maxRetryAfterMs;
    for (let wait = this.pacing.delayFor(backend, cap); wait > 0; wait = this.pacing.delayFor(backend, cap)) {
      if (wait >= context.deadline.remaining()) {
        throw new DeadlineExceededException(
          `call deadline of ${context.deadline.ms} ms would pass during the server's requested pause (Retry-After)`,
          { method: context.plan.name, attempts: n - 1, mayHaveExecuted: false },
        );
      }
      try {
        await sleep(Math.ceil(wait), context.waits);
      } catch (error) {
        if (isRPCException(error)) throw error;
        throw new CallAbortedException("call aborted while waiting out the server's Retry-After", { method: context.plan.name, attempts: n - 1, cause: error });
      }
    }
  }

  private attemptFailed<A, R>(
    failure: RPCException,
    backend: string,
    generation: number,
    context: CallContext<A, R>,
    n: number,
    cutByDeadline: boolean,
    /** When the attempt's own timeout was due (monotonic ms). */
    timeoutAt: number,
    facts: AnswerFacts | undefined,
  ): RPCException {
    const monitor = this.monitor;
    // The trial of an outage without a probe failed (answers end the outage instead, below). A
    // 401/403 is an answer too: the server is back, it refuses this caller (the breaker counts it
    // as a success for the same reason).
    const answered = failure.kind === 'remote-call' || failure.kind === 'authentication';
    // The call's own deadline ended the attempt: its timeout was what was left of the deadline, and it ran out.
    const ranOutOfDeadline = cutByDeadline && monotonicNow() >= timeoutAt - DEADLINE_TIMER_SLACK_MS;
    if (generation === monitor.generation && monitor.holding && !answered) {
      // A 429 is a live server asking for a pause: the trial found no service, and no failure
      // either. A trial its own caller aborted, or cut short by its own deadline, told nothing
      // about the backend: no verdict.
      if (failure instanceof ConnectionFailureException && failure.backPressure) monitor.trialPaced(generation);
      else if ((failure.kind === 'call-aborted' && this.abortedByCaller(context)) || ranOutOfDeadline) monitor.trialAbandoned(generation);
      else monitor.trialFailed(generation);
    }
    // The attempt's timeout was what was left of the call's deadline, and it ran out: the call
    // ended because of its deadline, whichever of the two timers fired first.
    if (
      cutByDeadline &&
      (failure.kind === 'unknown-outcome' || failure.kind === 'connection-failure') &&
      context.deadline.remaining() <= DEADLINE_TIMER_SLACK_MS
    ) {
      return new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed`, {
        method: context.plan.name,
        attempts: n,
        node: failure.node,
        epoch: failure.epoch,
        mayHaveExecuted: failure.mayHaveExecuted,
        cause: failure,
      });
    }
    switch (failure.kind) {
      case 'remote-call':
      case 'authentication': {
        // The node answered (it executed the call, or refused the caller): it is alive and serving.
        const node = failure.node ?? facts?.node;
        const epoch = failure.node === undefined ? facts?.epoch : failure.epoch;
        this.breakers.observeIdentity(backend, node, epoch);
        monitor.reportAnswer(node, epoch, generation);
        break;
      }
      case 'unknown-outcome':
        // No node answered and the path broke (the connection was cut after the request went
        // out, or a proxy answered a 5xx of its own): the node behind may be gone. The pipeline
        // checks with a probe before sending again, so an outage shows after one failed attempt,
        // not after a retry into it. Not so for an attempt that ran into its own timeout (a slow
        // node is not a lost one), nor for an answer with a node's identity (a live node answered).
        if (failure.node === undefined && monotonicNow() < timeoutAt - DEADLINE_TIMER_SLACK_MS) {
          monitor.reportPathLost(failure, generation);
        }
        break;
      case 'connection-failure':
        if (failure instanceof ConnectionFailureException && failure.backPressure) {
          // A 429: the server is alive and asks for a pause. Not an outage (no hold, no probes);
          // every attempt to this backend waits for it (DESIGN §2, back-pressure).
          if (failure.retryAfterMs !== undefined) this.pacing.defer(backend, failure.retryAfterMs, this.retry.maxRetryAfterMs);
          break;
        }
        // The serving node rolled the call back or found its time spent: it is alive and serving.
        if (failure instanceof ConnectionFailureException && (failure.nodeError === 'NOT_EXECUTED' || failure.nodeError === 'EXPIRED')) break;
        monitor.reportConnectionFailure(failure, generation);
        if (monitor.holding && failure instanceof ConnectionFailureException && failure.retryAfterMs !== undefined) {
          return withoutRetryAfter(failure);
        }
        break;
      default:
        break;
    }
    return failure;
  }

  /** The call's own signal (its caller, close()) or an adapter's cancel of it aborted: not the backend. */
  private abortedByCaller<A, R>(context: CallContext<A, R>): boolean {
    return context.signal.aborted || context.cancelController?.signal.aborted === true;
  }

  private waitError<A, R>(outcome: Exclude<WaitOutcome, 'ready' | 'trial'>, context: CallContext<A, R>, n: number): RPCException {
    const method = context.plan.name;
    const attempts = n - 1;
    switch (outcome) {
      case 'deadline':
        return new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed while waiting to reconnect`, {
          method,
          attempts,
          mayHaveExecuted: false,
        });
      case 'aborted':
        // The connection gave up while the call waited: the retry loop ends it as RetriesExhausted.
        if (context.waits.reason instanceof RetriesExhaustedException && !context.signal.aborted) return context.waits.reason;
        return new CallAbortedException('call aborted while waiting to reconnect', { method, attempts, cause: context.signal.reason });
      case 'closed':
        return new ClientClosedException(`${this.noun} closed while the call waited to reconnect`, { method, attempts });
      case 'full':
        return new PendingLimitException(`${this.options.maxPending} calls are already waiting to reconnect (maxPending)`, {
          method,
          attempts,
        });
      case 'failed': {
        // The same error the give-up signal carries, so the retry loop does not count it twice.
        if (context.waits.reason instanceof RetriesExhaustedException) return context.waits.reason;
        const cause = this.monitor.lastCause;
        return new RetriesExhaustedException('reconnecting failed: maxReconnectAttempts spent', 'reconnect', cause ? [cause] : [], {
          method,
          attempts,
          mayHaveExecuted: false,
        });
      }
    }
  }

  /** The error a failed call rejects with; close() turns whatever was in flight into ClientClosed. */
  private finalError(error: unknown, method: string): unknown {
    if (!this.closedFlag || !isRPCException(error) || error.kind === 'client-closed') return error;
    if (error instanceof RemoteCallException) return error;
    return new ClientClosedException(`${this.noun} closed during the call`, {
      method,
      attempts: error.attempts,
      node: error.node,
      epoch: error.epoch,
      cause: error,
      mayHaveExecuted: error.mayHaveExecuted,
    });
  }

  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  /** Ends the pipeline; `beforeComplete` (the adapter's own teardown) runs before the observables complete. */
  closeWith(beforeComplete: () => Promise<void>): Promise<void> {
    this.closePromise ??= this.shutdown(beforeComplete);
    return this.closePromise;
  }

  private async shutdown(beforeComplete?: () => Promise<void>): Promise<void> {
    this.closedFlag = true;
    const reason = new ClientClosedException(`${this.noun} closed`);
    this.closing.abort(reason);
    // Raced attempts on the pipeline's own signal are ended here (they have no listener on it).
    this.inflight.abortAll(reason);
    await this.monitor.close();
    this.breakers.dispose();
    this.observer?.close();
    if (beforeComplete !== undefined) await beforeComplete();
    this.events.complete();
    this.failovers.complete();
    this.reconnections.complete();
  }

  private emit(event: PolicyEvent): void {
    if (!this.events.observed && !this.log.enabled) return;
    const scrubbed = this.scrub(event);
    if (this.log.enabled) logPolicyEvent(this.log, scrubbed);
    if (this.events.observed) this.events.next(scrubbed);
  }

  private emitRetry(method: string, event: RetryEvent): void {
    if (!this.events.observed && !this.log.enabled) return;
    this.emit({ type: 'retry', method, attempt: event.attempt, delayMs: Math.round(event.delayMs), error: summarize(event.error) });
  }

  private planForUnlisted(name: string): Plan {
    // A name without an entry of its own takes the entry of its prefix, `prefix/*`, if any
    // (gRPC: `/pkg.Service/*` covers the service's methods, as gRFC A6's `{ service }` does).
    const slash = name.lastIndexOf('/');
    const wide = slash > 0 ? this.options.methods.get(`${name.slice(0, slash)}/*`) : undefined;
    const plan: Plan =
      wide !== undefined
        ? this.planFor(name, wide)
        : {
            name,
            idempotent: false,
            retry: this.retry,
            timeoutMs: this.options.timeoutMs,
            deadlineMs: this.options.deadlineMs,
            retryOnCodes: [],
          };
    // Remember a bounded number of names, so a caller inventing names cannot grow the map forever.
    if (this.plans.size < 10_000) this.plans.set(name, plan);
    return plan;
  }

  private planFor(name: string, settings: MethodSettings): Plan {
    const field = `methods.${name}.retry`;
    return {
      name,
      idempotent: settings.idempotent,
      retry: settings.retry === undefined ? this.retry : resolveRetryOptions(settings.retry, field, this.retry),
      timeoutMs: settings.timeoutMs ?? this.options.timeoutMs,
      deadlineMs: settings.deadlineMs ?? this.options.deadlineMs,
      retryOnCodes: settings.retryOnCodes,
    };
  }
}

/**
 * While the pipeline probes for recovery, the next attempt waits in the connection monitor and
 * is released the moment a probe finds service — sooner and better informed than a
 * `Retry-After` guessed by a standby. So that hint is dropped then (it is still honoured outside
 * an outage). Everything else the failure says is kept: the node's own reason, and the server's
 * "do not retry" (gRFC A6), which no hold may turn into a retry.
 */
function withoutRetryAfter(error: ConnectionFailureException): ConnectionFailureException {
  return new ConnectionFailureException(error.message, {
    method: error.method,
    attempts: error.attempts,
    node: error.node,
    epoch: error.epoch,
    cause: error.cause,
    mayHaveExecuted: error.mayHaveExecuted,
    nodeError: error.nodeError,
    doNotRetry: error.doNotRetry,
  });
}

/** One signal that aborts when either does (with that one's reason); dispose() unlinks. */
export function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (a.aborted) return { signal: a, dispose: () => undefined };
  if (b.aborted) return { signal: b, dispose: () => undefined };
  const controller = new AbortController();
  const onA = (): void => {
    dispose();
    controller.abort(a.reason);
  };
  const onB = (): void => {
    dispose();
    controller.abort(b.reason);
  };
  const dispose = (): void => {
    a.removeEventListener('abort', onA);
    b.removeEventListener('abort', onB);
  };
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return { signal: controller.signal, dispose };
}

function breakerEvent(event: BreakerStateEvent): PolicyEvent {
  const type = event.state === 'open' ? 'breaker-open' : event.state === 'half-open' ? 'breaker-half-open' : 'breaker-close';
  return { type, backend: event.backend, node: event.node, epoch: event.epoch, cause: event.cause };
}

/** A thrown value as log fields (the Log redacts them). */
function describeThrown(error: unknown): { name: string; message: string } {
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

/**
 * Each policy event's log record: retries, probes and state changes at debug, failovers and
 * recoveries at info, refusals at warn, a permanent failure at error. Attempts are not logged
 * (they are the success path).
 */
function logPolicyEvent(log: Log, event: PolicyEvent): void {
  switch (event.type) {
    case 'attempt':
      return;
    case 'retry':
      log.debug({ method: event.method, attempt: event.attempt, delayMs: event.delayMs, error: event.error }, 'retrying');
      return;
    case 'breaker-open':
    case 'breaker-half-open':
    case 'breaker-close': {
      const { type, ...change } = event;
      log[type === 'breaker-open' ? 'warn' : 'info'](change, type.replace('-', ' '));
      return;
    }
    case 'budget-exhausted':
      log.warn({ method: event.method, attempt: event.attempt }, 'retry budget exhausted; not retrying');
      return;
    case 'state':
      log.debug({ state: event.state }, 'connection state changed');
      return;
    case 'disconnected':
      log.info({ reason: event.reason }, 'disconnected; holding calls while a node takes over');
      return;
    case 'probe':
      log.debug({ backend: event.backend, attempt: event.attempt, ok: event.ok, status: event.status }, 'health probe');
      return;
    case 'reconnected': {
      const { type: _type, ...info } = event;
      log.info(info, 'reconnected');
      return;
    }
    case 'failover': {
      const { type: _type, ...info } = event;
      log.info(info, 'failed over to another node');
      return;
    }
    case 'permanent-failure': {
      const { type: _type, ...info } = event;
      log.error(info, 'gave up reconnecting; calls fail');
      return;
    }
    case 'active-backend':
      log.debug({ backend: event.backend }, 'active backend changed');
      return;
  }
}

function summarize(error: RPCException): ErrorSummary {
  return { kind: error.kind, message: redactText(error.message), mayHaveExecuted: error.mayHaveExecuted };
}

/** An AbortSignal, or one from a polyfill that behaves like it (duck-typed: other realms exist). */
function isAbortSignalLike(value: unknown): value is AbortSignal {
  const candidate = value as { aborted?: unknown; addEventListener?: unknown; removeEventListener?: unknown } | null;
  // Both listener methods: the pipeline unlinks from the signal when the call ends.
  return (
    typeof candidate === 'object' &&
    candidate !== null &&
    typeof candidate.aborted === 'boolean' &&
    typeof candidate.addEventListener === 'function' &&
    typeof candidate.removeEventListener === 'function'
  );
}
