import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import {
  BUDGET_BUCKETS,
  DEFAULT_BUDGET,
  createRetryBudget,
  resolveBudgetOptions,
  type ResolvedBudgetOptions,
} from '../../src/policy/budget.js';

type Op = { kind: 'call' } | { kind: 'retry' } | { kind: 'tick'; ms: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'call' } as const) },
  { weight: 4, arbitrary: fc.constant({ kind: 'retry' } as const) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 3000 }).map((ms) => ({ kind: 'tick', ms }) as const) },
);

const optionsArb: fc.Arbitrary<ResolvedBudgetOptions> = fc.record({
  ratio: fc.double({ min: 0, max: 1, noNaN: true }),
  minRetriesPerSecond: fc.oneof(fc.constant(0), fc.double({ min: 0, max: 20, noNaN: true })),
  ttlMs: fc.integer({ min: 10, max: 20_000 }),
});

interface Event {
  bucket: number;
  kind: 'call' | 'retry';
}

/** Replays ops on the real budget and records what it granted, bucketed like the definition. */
function replay(options: ResolvedBudgetOptions, ops: readonly Op[], start: number) {
  let now = start;
  const budget = createRetryBudget(options, () => now);
  const width = options.ttlMs / BUDGET_BUCKETS;
  const events: Event[] = [];
  const decisions: Array<{ bucket: number; granted: boolean }> = [];
  for (const op of ops) {
    const bucket = Math.floor(now / width);
    if (op.kind === 'tick') now += op.ms;
    else if (op.kind === 'call') {
      budget.recordCall();
      events.push({ bucket, kind: 'call' });
    } else {
      const granted = budget.tryRetry();
      decisions.push({ bucket, granted });
      if (granted) events.push({ bucket, kind: 'retry' });
    }
  }
  return { events, decisions, finalBucket: Math.floor(now / width) };
}

const count = (events: readonly Event[], kind: Event['kind'], from: number, to: number): number =>
  events.filter((e) => e.kind === kind && e.bucket >= from && e.bucket <= to).length;

describe('retry budget arithmetic', () => {
  it('decides exactly like the naive windowed definition, step by step', () => {
    fc.assert(
      fc.property(optionsArb, fc.array(opArb, { maxLength: 300 }), fc.integer({ min: 0, max: 1e9 }), (options, ops, start) => {
        let now = start;
        const budget = createRetryBudget(options, () => now);
        const width = options.ttlMs / BUDGET_BUCKETS;
        const reserve = options.minRetriesPerSecond * (options.ttlMs / 1000);
        const events: Event[] = [];
        for (const op of ops) {
          const k = Math.floor(now / width);
          if (op.kind === 'tick') {
            now += op.ms;
            continue;
          }
          if (op.kind === 'call') {
            budget.recordCall();
            events.push({ bucket: k, kind: 'call' });
            continue;
          }
          const calls = count(events, 'call', k - BUDGET_BUCKETS + 1, k);
          const retries = count(events, 'retry', k - BUDGET_BUCKETS + 1, k);
          const expected = retries + 1 <= options.ratio * calls + reserve;
          // "A budget with capacity does grant", and one without does not.
          expect(budget.tryRetry()).toBe(expected);
          if (expected) events.push({ bucket: k, kind: 'retry' });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('over any span of buckets, retries <= ratio × calls (incl. one window before) + minRetriesPerSecond × seconds + one window allowance', () => {
    fc.assert(
      fc.property(
        optionsArb,
        fc.array(opArb, { maxLength: 400 }),
        fc.integer({ min: 0, max: 1e9 }),
        fc.nat(),
        fc.nat(),
        (options, ops, start, a, b) => {
          const { events, finalBucket } = replay(options, ops, start);
          const first = Math.floor(start / (options.ttlMs / BUDGET_BUCKETS));
          const span = finalBucket - first + 1;
          const from = first + (a % span);
          const to = from + (b % (finalBucket - from + 1));
          const reserve = options.minRetriesPerSecond * (options.ttlMs / 1000);
          const retries = count(events, 'retry', from, to);
          const calls = count(events, 'call', from - BUDGET_BUCKETS + 1, to);
          // The span covers (to-from+1) buckets, i.e. at most floor((to-from)/B)+1 disjoint windows:
          // minRetriesPerSecond × its duration in seconds, rounded up to whole windows.
          const windows = Math.floor((to - from) / BUDGET_BUCKETS) + 1;
          expect(retries).toBeLessThanOrEqual(options.ratio * calls + reserve * windows + 1e-9);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('grants the ratio of calls plus the floor, then refuses, then recovers as the window slides', () => {
    let now = 0;
    const budget = createRetryBudget({ ratio: 0.2, minRetriesPerSecond: 1, ttlMs: 10_000 }, () => now);
    for (let i = 0; i < 100; i++) budget.recordCall();
    let granted = 0;
    while (budget.tryRetry()) granted++;
    expect(granted).toBe(20 + 10); // 20 % of 100 calls + 1/s × 10 s
    expect(budget.available()).toBeLessThan(1);
    now += 10_000; // everything falls out of the window
    expect(budget.available()).toBe(10);
    expect(budget.tryRetry()).toBe(true);
  });

  it('budget false never refuses; defaults follow Finagle', () => {
    const budget = createRetryBudget(false);
    budget.recordCall();
    for (let i = 0; i < 1000; i++) expect(budget.tryRetry()).toBe(true);
    expect(resolveBudgetOptions(undefined)).toEqual(DEFAULT_BUDGET);
    expect(resolveBudgetOptions(false)).toBe(false);
    expect(resolveBudgetOptions({ ratio: 0.5 })).toEqual({ ...DEFAULT_BUDGET, ratio: 0.5 });
  });

  const bad: Array<[unknown, string]> = [
    [{ ratio: 1.5 }, 'budget.ratio'],
    [{ ratio: -0.1 }, 'budget.ratio'],
    [{ ratio: Number.NaN }, 'budget.ratio'],
    [{ minRetriesPerSecond: -1 }, 'budget.minRetriesPerSecond'],
    [{ minRetriesPerSecond: Number.POSITIVE_INFINITY }, 'budget.minRetriesPerSecond'],
    [{ ttlMs: 0 }, 'budget.ttlMs'],
    [{ ttlMs: Number.NaN }, 'budget.ttlMs'],
    [{ rate: 1 }, 'budget.rate'],
    [true, 'budget'],
  ];
  it.each(bad)('rejects %j naming %s', (input, field) => {
    expect(() => resolveBudgetOptions(input)).toThrow(ConfigurationError);
    try {
      resolveBudgetOptions(input);
    } catch (error) {
      expect((error as ConfigurationError).field).toBe(field);
    }
  });
});
