import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { monotonicNow } from '../../src/shared/clock.js';
import { Mutex } from '../../src/lease/stores/mutex.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the SQLite connection mutex with a bound on the wait (runBefore)', () => {
  it('for any queue: tasks run one at a time in arrival order; a waiter whose bound passes never runs; the rest still do', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.record({ workMs: fc.integer({ min: 0, max: 15 }), boundMs: fc.oneof(fc.constant(Number.POSITIVE_INFINITY), fc.integer({ min: 0, max: 40 })) }), { minLength: 1, maxLength: 8 }),
        async (tasks) => {
          const mutex = new Mutex();
          const ran: number[] = [];
          let running = 0;
          const outcomes = await Promise.all(
            tasks.map((task, i) =>
              mutex
                .runBefore(monotonicNow() + task.boundMs, () => new Error(`timeout ${i}`), async () => {
                  running += 1;
                  expect(running).toBe(1);
                  ran.push(i);
                  await sleep(task.workMs);
                  running -= 1;
                  return i;
                })
                .then(
                  () => 'ran' as const,
                  (e: Error) => (e.message === `timeout ${i}` ? ('timed-out' as const) : Promise.reject(e)),
                ),
            ),
          );
          // Arrival order among those that ran.
          expect(ran).toEqual([...ran].sort((a, b) => a - b));
          outcomes.forEach((outcome, i) => expect(outcome === 'ran').toBe(ran.includes(i)));
          // Unbounded waiters always run.
          tasks.forEach((task, i) => {
            if (task.boundMs === Number.POSITIVE_INFINITY) expect(outcomes[i]).toBe('ran');
          });
          // The queue is usable afterwards.
          expect(await mutex.run(() => 'after')).toBe('after');
        },
      ),
      { numRuns: 40 },
    );
  });
});
