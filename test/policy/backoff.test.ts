import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import {
  Backoff,
  DEFAULT_RETRY,
  JITTER_KINDS,
  backoffCeiling,
  nextBackoffDelay,
  resolveRetryOptions,
  type BackoffOptions,
} from '../../src/policy/backoff.js';

const optionsArb = fc
  .record({
    minDelayMs: fc.double({ min: 0, max: 1e7, noNaN: true }),
    span: fc.double({ min: 0, max: 1e7, noNaN: true }),
    factor: fc.double({ min: 1, max: 100, noNaN: true }),
    jitter: fc.constantFrom(...JITTER_KINDS),
  })
  .map(({ minDelayMs, span, factor, jitter }): BackoffOptions => ({
    minDelayMs,
    maxDelayMs: minDelayMs + span,
    factor,
    jitter,
  }));

// Includes out-of-contract values: a broken random source must not break the bounds.
const randomArb = fc.oneof(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), fc.constantFrom(1, -1, 5, Number.NaN));

describe('backoff delays', () => {
  it('every delay is within the bounds of its jitter kind, for every input', () => {
    fc.assert(
      fc.property(optionsArb, fc.nat(5000), fc.option(fc.double({ min: 0, max: 1e8, noNaN: true })), randomArb, (o, n, prev, r) => {
        const delay = nextBackoffDelay(o, n, prev ?? undefined, () => r);
        const ceiling = backoffCeiling(o, n);
        expect(Number.isFinite(delay)).toBe(true);
        expect(ceiling).toBeLessThanOrEqual(o.maxDelayMs);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(o.maxDelayMs);
        if (o.jitter === 'none') expect(delay).toBe(ceiling);
        if (o.jitter === 'full') expect(delay).toBeLessThanOrEqual(ceiling);
        if (o.jitter === 'equal') {
          expect(delay).toBeGreaterThanOrEqual(ceiling / 2);
          expect(delay).toBeLessThanOrEqual(ceiling);
        }
        if (o.jitter === 'decorrelated') expect(delay).toBeGreaterThanOrEqual(o.minDelayMs);
      }),
      { numRuns: 2000 },
    );
  });

  it('decorrelated sequences stay within [min, max] over many retries', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(randomArb, { minLength: 1, maxLength: 60 }), (o, rs) => {
        let i = 0;
        const backoff = new Backoff({ ...o, jitter: 'decorrelated' }, () => rs[i++ % rs.length] ?? 0);
        for (let k = 0; k < 60; k++) {
          const d = backoff.next();
          expect(d).toBeGreaterThanOrEqual(o.minDelayMs);
          expect(d).toBeLessThanOrEqual(o.maxDelayMs);
        }
      }),
    );
  });

  it('grows by factor until the cap, exactly, without jitter', () => {
    const b = new Backoff({ minDelayMs: 50, maxDelayMs: 1000, factor: 2, jitter: 'none' });
    expect([1, 2, 3, 4, 5, 6, 7].map(() => b.next())).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    // Huge retry indexes neither overflow nor produce NaN (0 * Infinity).
    expect(backoffCeiling({ minDelayMs: 50, maxDelayMs: 1000, factor: 10, jitter: 'none' }, 10_000)).toBe(1000);
    expect(backoffCeiling({ minDelayMs: 0, maxDelayMs: 1000, factor: 10, jitter: 'none' }, 10_000)).toBe(0);
  });

  it('uses the random source as AWS describes', () => {
    const o: BackoffOptions = { minDelayMs: 100, maxDelayMs: 10_000, factor: 2, jitter: 'full' };
    expect(nextBackoffDelay(o, 2, undefined, () => 0.5)).toBe(200); // half of 400
    expect(nextBackoffDelay({ ...o, jitter: 'equal' }, 2, undefined, () => 0.5)).toBe(300); // 200 + 100
    expect(nextBackoffDelay({ ...o, jitter: 'decorrelated' }, 0, 1000, () => 0.5)).toBe(100 + 0.5 * 2900);
  });
});

describe('retry options', () => {
  it('defaults follow DESIGN §4', () => {
    expect(resolveRetryOptions(undefined)).toEqual(DEFAULT_RETRY);
    expect(DEFAULT_RETRY).toMatchObject({ maxAttempts: 8, minDelayMs: 50, maxDelayMs: 2000, jitter: 'full', factor: 2 });
    expect(resolveRetryOptions(false).maxAttempts).toBe(1);
  });

  it('fills a per-method override from the client-level block', () => {
    const client = resolveRetryOptions({ maxAttempts: 3, jitter: 'none' });
    const method = resolveRetryOptions({ maxDelayMs: 500 }, 'methods.balance.retry', client);
    expect(method).toMatchObject({ maxAttempts: 3, jitter: 'none', maxDelayMs: 500, minDelayMs: 50 });
  });

  const bad: Array<[unknown, string]> = [
    [{ maxAttempts: 0 }, 'retry.maxAttempts'],
    [{ maxAttempts: 1.5 }, 'retry.maxAttempts'],
    [{ maxAttempts: Number.NaN }, 'retry.maxAttempts'],
    [{ minDelayMs: -1 }, 'retry.minDelayMs'],
    [{ minDelayMs: Number.NaN }, 'retry.minDelayMs'],
    [{ maxDelayMs: Number.POSITIVE_INFINITY }, 'retry.maxDelayMs'],
    [{ minDelayMs: 500, maxDelayMs: 100 }, 'retry.minDelayMs'],
    [{ minDelayMs: 5000 }, 'retry.minDelayMs'],
    [{ maxDelayMs: 10 }, 'retry.maxDelayMs'],
    [{ jitter: 'fuzzy' }, 'retry.jitter'],
    [{ factor: 0.5 }, 'retry.factor'],
    [{ factor: Number.POSITIVE_INFINITY }, 'retry.factor'],
    [{ maxRetryAfterMs: -5 }, 'retry.maxRetryAfterMs'],
    [{ maxAttempt: 3 }, 'retry.maxAttempt'],
    ['often', 'retry'],
    [null, 'retry'],
  ];
  it.each(bad)('rejects %j naming %s', (input, field) => {
    let caught: unknown;
    try {
      resolveRetryOptions(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as ConfigurationError).field).toBe(field);
  });
});
