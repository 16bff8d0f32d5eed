import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  deadlineFromRead,
  earliestTakeover,
  earliestTakeoverAfterRead,
  renewRetryDelay,
  selfFencingDeadline,
  selfFencingSpan,
} from '../../src/lease/self-fencing.js';
import { resolveLeaseOptions } from '../../src/lease/options.js';
import { sqliteStore } from '../../src/lease/index.js';

const store = sqliteStore(':memory:');

describe('self-fencing deadline arithmetic', () => {
  it('the holder stops strictly before the earliest possible takeover, for every send time and waitInterval', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.integer({ min: 2, max: 10_000_000 }), (sentAt, wait) => {
        expect(selfFencingDeadline(sentAt, wait)).toBeLessThan(earliestTakeover(sentAt, wait));
      }),
    );
  });

  it('a deadline adopted from a read ends strictly before the earliest takeover that read allows', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e12, noNaN: true }), fc.double({ min: -1e7, max: 1e7, noNaN: true }), (readSentAt, expiresIn) => {
        expect(deadlineFromRead(readSentAt, expiresIn)).toBeLessThan(earliestTakeoverAfterRead(readSentAt, expiresIn));
      }),
    );
  });

  it('for every accepted configuration the deadline leaves room for a renewal and its timeout', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.integer({ min: 1, max: 4_000_000 }), (update, wait) => {
        let resolved;
        try {
          resolved = resolveLeaseOptions({ store, machineName: 'm', updateInterval: update, waitInterval: wait }).options;
        } catch {
          return; // rejected configurations are covered by options.test.ts
        }
        const span = selfFencingSpan(wait);
        expect(span).toBeGreaterThan(update);
        expect(resolved.statementTimeoutMs).toBeLessThan(span);
        const retry = renewRetryDelay(update, wait);
        expect(retry).toBeGreaterThan(0);
        expect(retry).toBeLessThanOrEqual(Math.max(5, update));
      }),
    );
  });

  it('the margin is 1000 ppm plus 2 ms', () => {
    expect(selfFencingSpan(40_000)).toBeCloseTo(40_000 - 40 - 2, 6);
    expect(selfFencingSpan(500)).toBeCloseTo(500 - 0.5 - 2, 6);
  });
});
