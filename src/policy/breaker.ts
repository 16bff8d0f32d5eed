/**
 * Circuit breakers on opossum, one per backend (key: the backend's base URL), failover-aware.
 *
 * Pipeline use: ONE `CircuitBreakers` per client, built from `resolveBreakerOptions(o.breaker)`,
 * with `onStateChange` wired to `events$` (breaker-open / breaker-half-open / breaker-close).
 * Per attempt, inside the retry loop:
 *
 *   const permit = await breakers.acquire(backend, { signal, deadline, method }); // or admit() (sync)
 *   try { const r = await transport.send(...); permit.success(); return r; }
 *   catch (e) { permit.failure(e); throw e; }
 *
 * `admit(backend)` is synchronous and throws CircuitOpenException when the breaker refuses;
 * `acquire` does the same but, with `whenOpen: 'wait'`, waits for the half-open trial slot
 * (bounded by the deadline and the signal) instead. Feed every node identity you see — from
 * answers and from errors that carry `node`/`epoch` — to `observeIdentity(backend, node, epoch)`:
 * a new term (higher epoch, or another node when there are no epochs) replaces that backend's
 * breaker, so the dead node's history does not punish the new one. `dispose()` on client close.
 *
 * Which failures count: connection-failure, unknown-outcome and protocol (the backend is sick),
 * except a 429 (back-pressure: the server is alive and pacing us; not counted at all).
 * A RemoteCall or Authentication error is a healthy server answering: counted as a success. An
 * abort, a deadline or any other outcome is the caller's business: not counted at all.
 *
 * Why it does not call opossum's `fire()` per call: fire() costs ~1.4 µs here (a promise, two
 * events, Date.now twice, a latency array push), most of the 2 µs budget for the whole client.
 * opossum stays the state machine (open/halfOpen/close, the reset timer, its events) and the
 * owner of the rolling stats window, but:
 *   - closed + success: two integer increments on opossum's current stats bucket (~20 ns);
 *   - closed + counted failure: `fire()` of an already-rejected promise, so opossum's own
 *     errorFilter and threshold logic (volumeThreshold, errorThresholdPercentage over the
 *     rolling window) decide whether to open;
 *   - half-open: our own single-trial gate, ended by opossum's `close()` (trial succeeded) or
 *     `open()` (trial failed, which re-arms its reset timer). An aborted trial frees the slot.
 * Buckets rotate on ONE shared interval for all breakers (opossum's `rotateBucketController`),
 * not one interval plus one snapshot interval per breaker — opossum's known timer leak.
 */
import { EventEmitter } from 'node:events';
import CircuitBreaker from 'opossum';
import { CallAbortedException, CircuitOpenException, ClientClosedException, isRPCException } from '../errors.js';
import { monotonicNow } from '../shared/clock.js';
import { backendLabel } from '../shared/redact.js';
import { MAX_TIMER_DELAY_MS, setRepeating, setTimer, type TimerHandle } from '../shared/timer.js';
import {
  rejectUnknownKeys,
  requireNonNegativeInteger,
  requireObject,
  requireOneOf,
  requirePositiveInteger,
  requireMs,
} from '../shared/validate.js';
import { ConfigurationError } from '../errors.js';
import type { Deadline } from './deadline.js';
import type { WhenOpen } from './retry-rules.js';

/**
 * The `breaker` option: one circuit breaker per backend (opossum), closed again whenever a new
 * node or epoch answers (DESIGN §3).
 */
export interface BreakerOptions {
  /**
   * Opens when the failure percentage over the rolling window exceeds this.
   * @default 50
   */
  errorThresholdPercentage?: number;
  /**
   * Open → half-open after this long, in ms.
   * @default 1000
   */
  resetTimeoutMs?: number;
  /**
   * Calls in the window before the breaker may open at all.
   * @default 5
   */
  volumeThreshold?: number;
  /**
   * Length of the rolling stats window, in ms.
   * @default 10000
   */
  rollingCountTimeoutMs?: number;
  /**
   * Buckets in that window.
   * @default 10
   */
  rollingCountBuckets?: number;
  /**
   * `wait`: the attempt waits (within the call's deadline) for the half-open trial, so calls ride
   * through a failover that briefly looks like a dead backend; `fail`: an open breaker fails the
   * attempt at once (`CircuitOpenException`).
   * @default 'wait'
   */
  whenOpen?: WhenOpen;
}

export type ResolvedBreakerOptions = Readonly<Required<BreakerOptions>>;

export const DEFAULT_BREAKER: ResolvedBreakerOptions = Object.freeze({
  errorThresholdPercentage: 50,
  resetTimeoutMs: 1000,
  volumeThreshold: 5,
  rollingCountTimeoutMs: 10_000,
  rollingCountBuckets: 10,
  // Behind a balancer a failover briefly looks like a dead backend; waiting (within the call's
  // deadline) for the half-open trial lets calls ride through it instead of failing them.
  whenOpen: 'wait',
});


// opossum arms its own reset and rolling timers with setTimeout, which cannot take more.
function requireTimerMs(field: string, value: unknown): number {
  return requireMs(field, value, { max: MAX_TIMER_DELAY_MS });
}

/** Checks a `breaker` option (`undefined` → defaults, `false` → no breaker). */
export function resolveBreakerOptions(input: unknown, field = 'breaker'): ResolvedBreakerOptions | false {
  if (input === undefined) return DEFAULT_BREAKER;
  if (input === false) return false;
  const raw = requireObject(field, input);
  rejectUnknownKeys(field, raw, Object.keys(DEFAULT_BREAKER));
  const pick = (key: keyof BreakerOptions): unknown => raw[key] ?? DEFAULT_BREAKER[key];
  const errorThresholdPercentage = pick('errorThresholdPercentage');
  if (typeof errorThresholdPercentage !== 'number' || !Number.isFinite(errorThresholdPercentage) || errorThresholdPercentage < 0 || errorThresholdPercentage > 100) {
    throw new ConfigurationError(`${field}.errorThresholdPercentage`, 'must be a number in [0, 100]');
  }
  const resetTimeoutMs = requireTimerMs(`${field}.resetTimeoutMs`, pick('resetTimeoutMs'));
  const volumeThreshold = requireNonNegativeInteger(`${field}.volumeThreshold`, pick('volumeThreshold'));
  const rollingCountTimeoutMs = requireTimerMs(`${field}.rollingCountTimeoutMs`, pick('rollingCountTimeoutMs'));
  const rollingCountBuckets = requirePositiveInteger(`${field}.rollingCountBuckets`, pick('rollingCountBuckets'));
  if (rollingCountTimeoutMs / rollingCountBuckets < 1) {
    throw new ConfigurationError(`${field}.rollingCountBuckets`, 'must leave each bucket at least 1 ms of rollingCountTimeoutMs');
  }
  const whenOpen = requireOneOf(`${field}.whenOpen`, pick('whenOpen'), ['fail', 'wait'] as const);
  return Object.freeze({ errorThresholdPercentage, resetTimeoutMs, volumeThreshold, rollingCountTimeoutMs, rollingCountBuckets, whenOpen });
}

export type BreakerState = 'closed' | 'open' | 'half-open';

export interface BreakerStateEvent {
  state: BreakerState;
  /** The backend's base URL, without userinfo. */
  backend: string;
  node: string | undefined;
  epoch: number | undefined;
  /** What moved it: the failure rate, the reset timeout, a trial's outcome, or a new node identity. */
  cause: 'failures' | 'reset-timeout' | 'trial-succeeded' | 'trial-failed' | 'identity-changed';
}

/** The right to make one attempt; end it with exactly one of its methods. */
export interface BreakerPermit {
  success(): void;
  /** Classifies the error: counted failure, healthy answer, or not counted (abort/deadline). */
  failure(error: unknown): void;
  /** The attempt did not happen or was abandoned by the caller: record nothing. */
  release(): void;
}

export interface CircuitBreakersOptions {
  onStateChange?: ((event: BreakerStateEvent) => void) | undefined;
  /** Monotonic ms, for the `whenOpen: 'wait'` arithmetic (injectable for tests). */
  clock?: (() => number) | undefined;
}

export interface AcquireContext {
  signal?: AbortSignal | undefined;
  deadline?: Deadline | undefined;
  method?: string | undefined;
}

type Outcome = 'failure' | 'success' | 'ignore';

/** Does this error say the backend is sick? (Also opossum's errorFilter, inverted.) */
export function breakerOutcome(error: unknown): Outcome {
  if (!isRPCException(error)) return 'ignore';
  switch (error.kind) {
    case 'connection-failure':
      // A 429 is a live server pacing us (back-pressure), not a sick one: never a failure.
      if ((error as { backPressure?: unknown }).backPressure === true) return 'ignore';
      // A node that answered NOT_ACTIVE (it has a name) is alive and redirecting us during a
      // failover; the reconnect probe handles that. Counting it would open the breaker exactly
      // when the standby is taking over and fail calls a planned switchover should not fail.
      return error.node === undefined ? 'failure' : 'ignore';
    case 'unknown-outcome':
      return 'failure';
    case 'protocol':
      // A request the client could not serialise says nothing about the backend.
      return error.mayHaveExecuted ? 'failure' : 'ignore';
    case 'remote-call':
    case 'authentication':
      return 'success';
    default:
      return 'ignore';
  }
}

const NOOP_PERMIT: BreakerPermit = Object.freeze({ success() {}, failure() {}, release() {} });
const noop = (): void => {};

type Action = (outcome: Promise<unknown>) => Promise<unknown>;

/**
 * The closed-state permit, one per breaker and shared by its attempts: a class, so every
 * breaker's permit has the same shape and methods and the success path's `permit.success()`
 * stays a monomorphic call.
 */
class ClosedPermit implements BreakerPermit {
  constructor(private readonly owner: BackendBreaker) {}

  success(): void {
    const bucket = this.owner.bucket;
    bucket.fires++;
    bucket.successes++;
  }

  failure(error: unknown): void {
    this.owner.recordClosed(breakerOutcome(error), error);
  }

  release(): void {}
}

/** One backend's breaker under one node identity. */
class BackendBreaker {
  readonly breaker: CircuitBreaker<[Promise<unknown>], unknown>;
  /** opossum's current stats bucket, refreshed on every rotation. */
  bucket: CircuitBreaker.Bucket;
  node: string | undefined;
  epoch: number | undefined;
  trialInFlight = false;
  /** opossum's state is closed (kept from its events: its own getter reads a symbol-keyed field). */
  isClosed = true;
  openedAt = 0;
  retired = false;
  private readonly waiters = new Set<() => void>();
  readonly closedPermit: BreakerPermit;
  /** Set just before we drive opossum ourselves, so its event is reported with the right cause. */
  private pendingCause: BreakerStateEvent['cause'] | undefined;

  constructor(
    readonly backend: string,
    options: ResolvedBreakerOptions,
    rotator: EventEmitter,
    private readonly owner: CircuitBreakers,
    node: string | undefined,
    epoch: number | undefined,
  ) {
    this.node = node;
    this.epoch = epoch;
    const action: Action = (outcome) => outcome;
    this.breaker = new CircuitBreaker(action, {
      timeout: false, // per-attempt timeouts belong to the transport
      resetTimeout: options.resetTimeoutMs,
      errorThresholdPercentage: options.errorThresholdPercentage,
      volumeThreshold: options.volumeThreshold,
      rollingCountTimeout: options.rollingCountTimeoutMs,
      rollingCountBuckets: options.rollingCountBuckets,
      rollingPercentilesEnabled: false, // otherwise every failure sorts every latency in the window
      enableSnapshots: false, // otherwise one more interval per breaker
      rotateBucketController: rotator,
      errorFilter: (error: Error) => breakerOutcome(error) !== 'failure',
      name: backendLabel(backend),
    });
    this.bucket = this.currentBucket();
    this.breaker.on('open', () => {
      this.isClosed = false;
      this.openedAt = owner.now();
      this.trialInFlight = false;
      this.announce('open', this.pendingCause ?? 'failures');
    });
    this.breaker.on('halfOpen', () => {
      this.isClosed = false;
      this.trialInFlight = false;
      this.announce('half-open', 'reset-timeout');
    });
    this.breaker.on('close', () => {
      this.isClosed = true;
      this.trialInFlight = false;
      this.announce('closed', this.pendingCause ?? 'trial-succeeded');
    });
    this.closedPermit = new ClosedPermit(this);
  }

  currentBucket(): CircuitBreaker.Bucket {
    // `window` is a copy of the array, but its buckets are opossum's own objects.
    return this.breaker.status.window[0] as CircuitBreaker.Bucket;
  }

  state(): BreakerState {
    return this.breaker.closed ? 'closed' : this.breaker.halfOpen ? 'half-open' : 'open';
  }

  private announce(state: BreakerState, cause: BreakerStateEvent['cause']): void {
    this.pendingCause = undefined;
    this.wake();
    if (!this.retired) this.owner.report({ state, backend: backendLabel(this.backend), node: this.node, epoch: this.epoch, cause });
  }

  recordClosed(outcome: Outcome, error: unknown): void {
    if (outcome === 'ignore' || this.retired) return;
    if (outcome === 'success') {
      this.bucket.fires++;
      this.bucket.successes++;
      return;
    }
    if (!this.breaker.closed) {
      // Opened meanwhile by other calls: keep the count, opossum is already past deciding.
      this.bucket.fires++;
      this.bucket.failures++;
      return;
    }
    // Let opossum count it and apply its threshold rule. Both rejections are handled here: they
    // are bookkeeping, not the caller's error (which the caller rethrows itself).
    const rejected = Promise.reject(error);
    rejected.catch(noop);
    this.breaker.fire(rejected).catch(noop);
  }

  trialPermit(): BreakerPermit {
    this.trialInFlight = true;
    let done = false;
    const end = (outcome: Outcome): void => {
      if (done) return;
      done = true;
      if (this.retired || !this.breaker.halfOpen) {
        this.trialInFlight = false;
        return;
      }
      if (outcome === 'ignore') {
        this.trialInFlight = false; // the slot goes to the next caller
        this.wake();
        return;
      }
      this.bucket.fires++;
      if (outcome === 'success') {
        this.bucket.successes++;
        this.pendingCause = 'trial-succeeded';
        this.breaker.close();
      } else {
        this.bucket.failures++;
        this.pendingCause = 'trial-failed';
        this.breaker.open(); // re-arms opossum's reset timer
      }
    };
    return {
      success: () => end('success'),
      failure: (error) => end(breakerOutcome(error)),
      release: () => end('ignore'),
    };
  }

  /** Resolves at the next state change of this breaker (or its replacement/disposal). */
  changed(): { promise: Promise<void>; cancel: () => void } {
    let wakeUp: () => void = noop;
    const promise = new Promise<void>((resolve) => {
      wakeUp = resolve;
    });
    this.waiters.add(wakeUp);
    return { promise, cancel: () => this.waiters.delete(wakeUp) };
  }

  wake(): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const w of waiters) w();
  }

  retire(): void {
    this.retired = true;
    this.breaker.shutdown();
    this.wake();
  }
}

/** All breakers of one client, keyed by backend base URL. */
export class CircuitBreakers {
  private readonly entries = new Map<string, BackendBreaker>();
  /** The entry {@link entry} returned last (a replaced one is `retired`, so never served from here). */
  private lastEntry: BackendBreaker | undefined = undefined;
  private readonly rotator = new EventEmitter();
  private rotation: TimerHandle | undefined;
  private disposed = false;
  readonly now: () => number;
  readonly whenOpen: WhenOpen;

  constructor(
    private readonly options: ResolvedBreakerOptions | false,
    private readonly hooks: CircuitBreakersOptions = {},
  ) {
    this.now = hooks.clock ?? monotonicNow;
    // One 'rotate' listener per live breaker (one per backend): many backends are not a leak.
    this.rotator.setMaxListeners(0);
    this.whenOpen = options === false ? 'fail' : options.whenOpen;
  }

  /** @internal */
  report(event: BreakerStateEvent): void {
    this.hooks.onStateChange?.(event);
  }

  private entry(backend: string): BackendBreaker | undefined {
    if (this.options === false) return undefined;
    // Most policies have one backend: the last entry answers without a hash lookup.
    const last = this.lastEntry;
    if (last !== undefined && last.backend === backend && !last.retired) return last;
    let entry = this.entries.get(backend);
    if (entry === undefined) {
      if (this.disposed) throw new ClientClosedException('circuit breakers are disposed');
      entry = new BackendBreaker(backend, this.options, this.rotator, this, undefined, undefined);
      this.entries.set(backend, entry);
      this.startRotation(this.options);
    }
    this.lastEntry = entry;
    return entry;
  }

  private startRotation(options: ResolvedBreakerOptions): void {
    if (this.rotation !== undefined) return;
    this.rotation = setRepeating(() => {
      this.rotator.emit('rotate');
      for (const entry of this.entries.values()) entry.bucket = entry.currentBucket();
    }, Math.floor(options.rollingCountTimeoutMs / options.rollingCountBuckets)).unref();
  }

  state(backend: string): BreakerState {
    return this.options === false ? 'closed' : (this.entries.get(backend)?.state() ?? 'closed');
  }

  /**
   * The success path's gate: the shared closed-state permit of `backend`'s breaker when it is
   * the one used last and closed, else undefined (then {@link admit} decides). No allocation,
   * no map lookup, nothing thrown.
   */
  closedPermitFor(backend: string): BreakerPermit | undefined {
    if (this.options === false) return NOOP_PERMIT;
    const last = this.lastEntry;
    return last !== undefined && last.backend === backend && last.isClosed && !last.retired && !this.disposed ? last.closedPermit : undefined;
  }

  /**
   * The synchronous gate: a permit, or CircuitOpenException when the breaker is open or its
   * half-open trial is taken. The closed-state permit is shared and allocation-free.
   */
  admit(backend: string, method?: string): BreakerPermit {
    if (this.disposed) throw new ClientClosedException('circuit breakers are disposed', { method });
    const entry = this.entry(backend);
    if (entry === undefined) return NOOP_PERMIT;
    const breaker = entry.breaker;
    if (breaker.closed) return entry.closedPermit;
    if (breaker.halfOpen && !entry.trialInFlight) return entry.trialPermit();
    throw new CircuitOpenException(
      breaker.halfOpen ? `circuit half-open for ${backendLabel(backend)}: its trial call is in flight` : `circuit open for ${backendLabel(backend)}`,
      { method, node: entry.node, epoch: entry.epoch },
    );
  }

  /**
   * Like {@link admit}; with `whenOpen: 'wait'` it waits for the breaker (half-open slot, close,
   * or a new node identity) instead of throwing, until the deadline or the signal ends the wait:
   * then CircuitOpenException (deadline), or on abort the signal's reason when it is an
   * RPCException (ClientClosed, DeadlineExceeded) and CallAbortedException otherwise.
   */
  async acquire(backend: string, context: AcquireContext = {}): Promise<BreakerPermit> {
    for (;;) {
      try {
        return this.admit(backend, context.method);
      } catch (error) {
        if (this.whenOpen !== 'wait' || !(error instanceof CircuitOpenException)) throw error;
        try {
          await this.waitForChange(backend, error, context);
        } catch (stop) {
          if (stop === error || !context.signal?.aborted) throw stop;
          const reason: unknown = context.signal.reason;
          if (isRPCException(reason)) throw reason;
          throw new CallAbortedException('call aborted while waiting for the circuit breaker', { method: context.method, cause: reason });
        }
      }
    }
  }

  private async waitForChange(backend: string, refusal: CircuitOpenException, context: AcquireContext): Promise<void> {
    const { signal, deadline } = context;
    signal?.throwIfAborted();
    const entry = this.entries.get(backend);
    if (entry === undefined || this.options === false) return;
    const remaining = deadline?.remaining() ?? Number.POSITIVE_INFINITY;
    if (remaining <= 0) throw refusal;
    // Wake at the next state change, or when opossum's (unref'd) reset timer should fire — our
    // own ref'd timer keeps a waiting call alive and bounds the wait by the deadline.
    const untilHalfOpen = entry.breaker.opened ? Math.max(1, entry.openedAt + this.options.resetTimeoutMs - this.now() + 1) : Number.POSITIVE_INFINITY;
    const waitMs = Math.min(remaining, untilHalfOpen);
    const change = entry.changed();
    let timer: TimerHandle | undefined;
    let onAbort: (() => void) | undefined;
    try {
      await new Promise<void>((resolve, reject) => {
        change.promise.then(resolve, reject);
        timer = setTimer(resolve, waitMs);
        if (signal) {
          onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
        }
      });
    } finally {
      change.cancel();
      timer?.clear();
      if (onAbort) signal?.removeEventListener('abort', onAbort);
    }
    if (deadline?.expired()) throw refusal;
  }

  /**
   * Tells the breakers which node answered for `backend` and under which fencing token. A new
   * term — a higher epoch, or a different node when an epoch is missing — replaces the
   * breaker with a fresh, closed one; an older or equal epoch (a stale or standby answer) does not.
   */
  observeIdentity(backend: string, node: string | undefined, epoch: number | undefined): void {
    if (node === undefined || this.options === false || this.disposed) return;
    const entry = this.entry(backend);
    if (entry === undefined) return;
    if (entry.node === undefined) {
      entry.node = node;
      entry.epoch = epoch;
      return;
    }
    // With both fencing tokens known, only a higher one is a new term (a standby's NOT_ACTIVE or
    // a stale holder carries the same or an older one); without them, another node is.
    const newTerm = epoch !== undefined && entry.epoch !== undefined ? epoch > entry.epoch : node !== entry.node;
    if (!newTerm) {
      if (entry.epoch === undefined && epoch !== undefined && node === entry.node) entry.epoch = epoch;
      return;
    }
    const wasClosed = entry.breaker.closed;
    const fresh = new BackendBreaker(backend, this.options, this.rotator, this, node, epoch);
    this.entries.set(backend, fresh);
    entry.retire();
    if (!wasClosed) {
      this.report({ state: 'closed', backend: backendLabel(backend), node, epoch, cause: 'identity-changed' });
    }
  }

  /** Shuts every opossum breaker down and stops the rotation timer. Idempotent. */
  dispose(): void {
    this.disposed = true;
    this.rotation?.clear();
    this.rotation = undefined;
    for (const entry of this.entries.values()) entry.retire();
    this.entries.clear();
    this.rotator.removeAllListeners();
  }
}
