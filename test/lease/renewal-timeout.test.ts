import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { renewalTimeout, renewRetryDelay, selfFencingDeadline } from '../../src/lease/self-fencing.js';
import { resolveLeaseOptions } from '../../src/lease/options.js';
import { sqliteStore } from '../../src/lease/index.js';
import { MAX_TIMER_DELAY_MS } from '../../src/shared/timer.js';

const store = sqliteStore(':memory:');

describe('how long a renewal waits for its answer', () => {
  it('for every accepted configuration: at least statementTimeoutMs, a renewal sent on schedule is given up only when just one retry still fits before its deadline', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000_000 }),
        fc.integer({ min: 1, max: 4_000_000 }),
        fc.double({ min: 0, max: 1e12, noNaN: true }),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (update, wait, lastSent, lateness) => {
          let options;
          try {
            options = resolveLeaseOptions({ store, machineName: 'm', updateInterval: update, waitInterval: wait }).options;
          } catch {
            return; // rejected configurations are covered by options.test.ts
          }
          const deadline = selfFencingDeadline(lastSent, wait);
          const retry = renewRetryDelay(update, wait);
          // Sent anywhere between its schedule (lastSent + update) and the deadline.
          const sentAt = lastSent + update + lateness * (deadline - lastSent - update);
          const timeout = renewalTimeout(sentAt, deadline, options.statementTimeoutMs, retry);
          expect(Number.isInteger(timeout)).toBe(true);
          expect(timeout).toBeGreaterThanOrEqual(options.statementTimeoutMs);
          expect(timeout).toBeLessThanOrEqual(MAX_TIMER_DELAY_MS);
          // When it waits longer than statementTimeoutMs, a retry (sent retryDelay after the
          // timeout) still has retryDelay to run before the deadline.
          if (timeout > options.statementTimeoutMs) expect(sentAt + timeout + retry).toBeLessThanOrEqual(deadline - retry);
          // The MariaDB case: a renewal sent on schedule may wait behind fenced transactions until then.
          const onSchedule = renewalTimeout(lastSent + update, deadline, options.statementTimeoutMs, retry);
          expect(lastSent + update + onSchedule).toBeGreaterThan(deadline - 2 * retry - 1);
        },
      ),
    );
  });

  it('the test configuration (200 ms / 1000 ms): 200 ms before, 697 ms now', () => {
    const { options } = resolveLeaseOptions({ store, machineName: 'm', updateInterval: 200, waitInterval: 1000 });
    expect(options.statementTimeoutMs).toBe(200);
    const deadline = selfFencingDeadline(0, 1000);
    expect(renewalTimeout(200, deadline, 200, renewRetryDelay(200, 1000))).toBe(697);
  });

  it('without a deadline (self-fencing disabled) it is statementTimeoutMs', () => {
    expect(renewalTimeout(0, Number.POSITIVE_INFINITY, 300, 50)).toBe(300);
  });

  it('a deadline beyond what Node timers hold is capped, never an instant timeout', () => {
    expect(renewalTimeout(0, 1e15, 5000, 5000)).toBe(MAX_TIMER_DELAY_MS);
  });
});
