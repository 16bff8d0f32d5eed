/**
 * A client-wide retry budget, Finagle style: within a sliding window of `ttlMs`, retries are
 * allowed up to `ratio` × (calls in the window) + `minRetriesPerSecond` × (ttlMs / 1000).
 * During a failover every caller fails at once; the budget turns N callers × maxAttempts into a
 * bounded trickle, so the standby is not flattened the moment it becomes active.
 *
 * Pipeline use: create ONE budget per client with `createRetryBudget(resolveBudgetOptions(o.budget))`.
 * Call `recordCall()` once per logical call (not per attempt) on the way in — it is O(1), reads
 * the clock once and allocates nothing. `retryAfterFailure` (retry.ts) calls `tryRetry()` before
 * each retry; `false` means: no retry, `RetriesExhaustedException('budget')`, `budget-exhausted`.
 * `budget: false` gives an unlimited budget object, so the pipeline never branches on it.
 *
 * The window is a ring of BUCKETS time buckets of width ttlMs/BUCKETS. An event stays counted
 * while the current bucket index k satisfies k <= eventBucket + BUCKETS - 1, so the window spans
 * between ttlMs - width and ttlMs of history. Counts are integers, so the running sums are exact
 * and the decision equals the naive "count the events in the window" definition (the tests check
 * that against a reference model).
 */
import { monotonicNow } from '../shared/clock.js';
import {
  rejectUnknownKeys,
  requireFiniteNonNegative,
  requireObject,
  requireRatio,
} from '../shared/validate.js';
import { ConfigurationError } from '../errors.js';

/**
 * The `budget` option: retries over all operations are limited to a share of recent calls plus a
 * floor per second, so a failing backend is not hit by a retry storm (Finagle's RetryBudget).
 */
export interface BudgetOptions {
  /**
   * Fraction of recent calls that may be retried, in [0, 1] (Finagle's 20 %).
   * @default 0.2
   */
  ratio?: number;
  /**
   * Retries always allowed per second regardless of traffic.
   * @default 10
   */
  minRetriesPerSecond?: number;
  /**
   * Length of the sliding window, in ms.
   * @default 10000
   */
  ttlMs?: number;
}

export type ResolvedBudgetOptions = Readonly<Required<BudgetOptions>>;

export const DEFAULT_BUDGET: ResolvedBudgetOptions = Object.freeze({ ratio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 });

/** Buckets in the sliding window. */
export const BUDGET_BUCKETS = 10;

/** Checks a `budget` option (`undefined` → defaults, `false` → no budget). */
export function resolveBudgetOptions(input: unknown, field = 'budget'): ResolvedBudgetOptions | false {
  if (input === undefined) return DEFAULT_BUDGET;
  if (input === false) return false;
  const raw = requireObject(field, input);
  rejectUnknownKeys(field, raw, ['ratio', 'minRetriesPerSecond', 'ttlMs']);
  const ratio = requireRatio(`${field}.ratio`, raw.ratio ?? DEFAULT_BUDGET.ratio);
  const minRetriesPerSecond = requireFiniteNonNegative(
    `${field}.minRetriesPerSecond`,
    raw.minRetriesPerSecond ?? DEFAULT_BUDGET.minRetriesPerSecond,
  );
  const ttlMs = requireFiniteNonNegative(`${field}.ttlMs`, raw.ttlMs ?? DEFAULT_BUDGET.ttlMs);
  // Below one millisecond per bucket the window stops meaning "recent calls".
  if (ttlMs < BUDGET_BUCKETS) throw new ConfigurationError(`${field}.ttlMs`, `must be at least ${BUDGET_BUCKETS}`);
  return Object.freeze({ ratio, minRetriesPerSecond, ttlMs });
}

export interface RetryBudget {
  /**
   * One logical call started. O(1). `now` is the monotonic ms the caller already read for the
   * call (the pipeline reads the clock once per call and lends it here); the budget's own clock
   * when omitted.
   */
  recordCall(now?: number): void;
  /** Takes one retry from the budget if it allows one; `false` means "do not retry". */
  tryRetry(): boolean;
  /** Retries still allowed right now (may be fractional; `Infinity` without a budget). */
  available(): number;
}

class UnlimitedBudget implements RetryBudget {
  recordCall(_now?: number): void {}
  tryRetry(): boolean {
    return true;
  }
  available(): number {
    return Number.POSITIVE_INFINITY;
  }
}

class WindowedRetryBudget implements RetryBudget {
  private readonly calls = new Float64Array(BUDGET_BUCKETS);
  private readonly retries = new Float64Array(BUDGET_BUCKETS);
  private callsInWindow = 0;
  private retriesInWindow = 0;
  /** Absolute index of the current bucket: floor(now / width). */
  private bucket: number;
  /** Ring slot of {@link bucket}. */
  private current: number;
  private readonly width: number;
  private readonly reserve: number;
  private readonly ratio: number;

  constructor(
    options: ResolvedBudgetOptions,
    private readonly clock: () => number,
  ) {
    this.width = options.ttlMs / BUDGET_BUCKETS;
    this.reserve = options.minRetriesPerSecond * (options.ttlMs / 1000);
    this.ratio = options.ratio;
    this.bucket = Math.floor(clock() / this.width);
    this.current = this.slot(this.bucket);
  }

  /** Moves the window to `at` (monotonic ms), forgetting buckets that fell out. At most BUCKETS steps. */
  private advance(at: number = this.clock()): number {
    const now = Math.floor(at / this.width);
    const steps = now - this.bucket;
    if (steps <= 0) return this.slot(this.bucket);
    if (steps >= BUDGET_BUCKETS) {
      this.calls.fill(0);
      this.retries.fill(0);
      this.callsInWindow = 0;
      this.retriesInWindow = 0;
    } else {
      for (let k = this.bucket + 1; k <= now; k++) {
        const i = this.slot(k);
        this.callsInWindow -= this.calls[i] ?? 0;
        this.retriesInWindow -= this.retries[i] ?? 0;
        this.calls[i] = 0;
        this.retries[i] = 0;
      }
    }
    this.bucket = now;
    this.current = this.slot(now);
    return this.current;
  }

  private slot(k: number): number {
    return ((k % BUDGET_BUCKETS) + BUDGET_BUCKETS) % BUDGET_BUCKETS;
  }

  recordCall(now: number = this.clock()): void {
    // Most calls land in the current bucket: its slot without the modulo arithmetic.
    const i = Math.floor(now / this.width) === this.bucket ? this.current : this.advance(now);
    this.calls[i] = (this.calls[i] ?? 0) + 1;
    this.callsInWindow += 1;
  }

  tryRetry(): boolean {
    const i = this.advance();
    if (this.retriesInWindow + 1 > this.ratio * this.callsInWindow + this.reserve) return false;
    this.retries[i] = (this.retries[i] ?? 0) + 1;
    this.retriesInWindow += 1;
    return true;
  }

  available(): number {
    this.advance();
    return Math.max(0, this.ratio * this.callsInWindow + this.reserve - this.retriesInWindow);
  }
}

/**
 * One budget per client. `clock` is monotonic milliseconds (injectable for tests); never the
 * wall clock, which can step backwards and revive old buckets.
 */
export function createRetryBudget(options: ResolvedBudgetOptions | false, clock: () => number = monotonicNow): RetryBudget {
  return options === false ? new UnlimitedBudget() : new WindowedRetryBudget(options, clock);
}
