/**
 * Backoff delays and the `retry` option block.
 *
 * Pipeline use: `resolveRetryOptions(options.retry, 'retry')` once at client construction (and
 * `resolveRetryOptions(methodOverride, 'methods.<name>.retry', clientLevel)` per method), then
 * hand the resolved object to `retryAfterFailure` (retry.ts), which calls `nextBackoffDelay`
 * before each retry. Nothing here touches timers: these are pure functions with an injectable
 * random source so the jitter can be tested exactly.
 *
 * Jitter kinds follow the AWS Architecture Blog, "Exponential Backoff And Jitter" (2015), with
 * `retryIndex` n = 0 for the first retry, `ceiling(n) = min(maxDelayMs, minDelayMs * factor^n)`:
 *   - `none`:         ceiling(n)
 *   - `full`:         uniform in [0, ceiling(n)]   — spreads a failover's herd the most
 *   - `equal`:        ceiling(n)/2 + uniform in [0, ceiling(n)/2]
 *   - `decorrelated`: min(maxDelayMs, uniform in [minDelayMs, previous * 3]) — stays in [min, max]
 */
import { ConfigurationError } from '../errors.js';
import {
  rejectUnknownKeys,
  requireObject,
  requireOneOf,
  requirePositiveInteger,
  requireMs,
} from '../shared/validate.js';

/** Every {@link JitterKind}, for validation and option lists. */
export const JITTER_KINDS = ['full', 'equal', 'decorrelated', 'none'] as const;
/**
 * How a backoff delay is randomised (AWS, "Exponential Backoff And Jitter"): `full` (uniform in
 * [0, ceiling], spreads a failover's herd the most), `equal` (half fixed, half random),
 * `decorrelated` (uniform in [minDelayMs, previous × 3], capped), `none` (the ceiling itself).
 */
export type JitterKind = (typeof JITTER_KINDS)[number];

/**
 * The `retry` option as a user writes it (every field optional): how many attempts, and the
 * backoff between them. Whether a failure is retried at all is DESIGN §2's rule, not this block's.
 */
export interface RetryOptions {
  /**
   * Attempts in total, the first included. `1` means never retry.
   * @default 8
   */
  maxAttempts?: number;
  /**
   * Base of the exponential backoff, in ms.
   * @default 50
   */
  minDelayMs?: number;
  /**
   * Cap of any backoff delay, in ms.
   * @default 2000
   */
  maxDelayMs?: number;
  /**
   * How the delay is randomised (see {@link JitterKind}).
   * @default 'full'
   */
  jitter?: JitterKind;
  /**
   * Growth per retry for `none`/`full`/`equal`; must be >= 1.
   * @default 2
   */
  factor?: number;
  /**
   * Cap on a server's `Retry-After`, in ms: a longer one is shortened to this.
   * @default 10000
   */
  maxRetryAfterMs?: number;
}

/** Every field present and checked. */
export type ResolvedRetryOptions = Readonly<Required<RetryOptions>>;

export const DEFAULT_RETRY: ResolvedRetryOptions = Object.freeze({
  maxAttempts: 8,
  minDelayMs: 50,
  maxDelayMs: 2000,
  jitter: 'full',
  factor: 2,
  maxRetryAfterMs: 10_000,
});

const RETRY_KEYS = ['maxAttempts', 'minDelayMs', 'maxDelayMs', 'jitter', 'factor', 'maxRetryAfterMs'] as const;

/**
 * Checks a `retry` block and fills defaults from `base` (the client-level block when resolving a
 * per-method override). `false` means "one attempt, never retry". Throws {@link ConfigurationError}
 * naming `<field>.<key>`.
 */
export function resolveRetryOptions(
  input: unknown,
  field = 'retry',
  base: ResolvedRetryOptions = DEFAULT_RETRY,
): ResolvedRetryOptions {
  if (input === undefined) return base;
  if (input === false) return Object.freeze({ ...base, maxAttempts: 1 });
  const raw = requireObject(field, input);
  rejectUnknownKeys(field, raw, RETRY_KEYS);
  const pick = <K extends keyof RetryOptions>(key: K): unknown => (raw[key] === undefined ? base[key] : raw[key]);

  const maxAttempts = requirePositiveInteger(`${field}.maxAttempts`, pick('maxAttempts'));
  const minDelayMs = requireMs(`${field}.minDelayMs`, pick('minDelayMs'), { allowZero: true });
  const maxDelayMs = requireMs(`${field}.maxDelayMs`, pick('maxDelayMs'), { allowZero: true });
  const jitter = requireOneOf(`${field}.jitter`, pick('jitter'), JITTER_KINDS);
  const factor = pick('factor');
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new ConfigurationError(`${field}.factor`, 'must be a finite number >= 1');
  }
  const maxRetryAfterMs = requireMs(`${field}.maxRetryAfterMs`, pick('maxRetryAfterMs'), { allowZero: true });
  if (minDelayMs > maxDelayMs) {
    // Name the field the user actually wrote, so the message points at the line to fix.
    const culprit = raw.minDelayMs !== undefined ? 'minDelayMs' : 'maxDelayMs';
    throw new ConfigurationError(`${field}.${culprit}`, 'minDelayMs must not exceed maxDelayMs');
  }
  return Object.freeze({ maxAttempts, minDelayMs, maxDelayMs, jitter, factor, maxRetryAfterMs });
}

/** The backoff part of {@link ResolvedRetryOptions}. */
export type BackoffOptions = Pick<ResolvedRetryOptions, 'minDelayMs' | 'maxDelayMs' | 'jitter' | 'factor'>;

/** A source of uniform numbers in [0, 1), like `Math.random`. */
export type RandomSource = () => number;

/** `min(maxDelayMs, minDelayMs * factor^retryIndex)`, without overflow or `0 * Infinity`. */
export function backoffCeiling(options: BackoffOptions, retryIndex: number): number {
  const { minDelayMs, maxDelayMs, factor } = options;
  if (minDelayMs === 0) return 0;
  const raw = minDelayMs * factor ** Math.max(0, retryIndex);
  return Number.isFinite(raw) ? Math.min(maxDelayMs, raw) : maxDelayMs;
}

function unit(random: RandomSource): number {
  // A misbehaving source must not push a delay out of its bounds.
  const r = random();
  return r >= 0 && r < 1 ? r : r >= 1 ? 1 : 0;
}

/**
 * The delay before retry number `retryIndex` (0 for the first retry). `previousDelayMs` is the
 * delay returned for the previous retry (only `decorrelated` uses it; pass `undefined` first).
 */
export function nextBackoffDelay(
  options: BackoffOptions,
  retryIndex: number,
  previousDelayMs: number | undefined,
  random: RandomSource = Math.random,
): number {
  const ceiling = backoffCeiling(options, retryIndex);
  switch (options.jitter) {
    case 'none':
      return ceiling;
    case 'full':
      // min(): float rounding must not push a delay past its ceiling.
      return Math.min(ceiling, unit(random) * ceiling);
    case 'equal': {
      const half = ceiling / 2;
      return Math.min(ceiling, half + unit(random) * half);
    }
    case 'decorrelated': {
      const { minDelayMs, maxDelayMs } = options;
      const previous = Math.min(maxDelayMs, Math.max(minDelayMs, previousDelayMs ?? minDelayMs));
      const upper = Math.max(minDelayMs, previous * 3);
      return Math.min(maxDelayMs, minDelayMs + unit(random) * (upper - minDelayMs));
    }
  }
}

/** A stateful sequence over {@link nextBackoffDelay}, one per logical call. */
export class Backoff {
  private retryIndex = 0;
  private previous: number | undefined;
  constructor(
    private readonly options: BackoffOptions,
    private readonly random: RandomSource = Math.random,
  ) {}

  next(): number {
    const delay = nextBackoffDelay(this.options, this.retryIndex, this.previous, this.random);
    this.retryIndex += 1;
    this.previous = delay;
    return delay;
  }
}
