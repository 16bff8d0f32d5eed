/**
 * The pipeline's safety property, over any sequence of attempt outcomes (fast-check): a
 * non-idempotent call whose attempt may have run is never run again without deduplication, and a
 * call that fails with `mayHaveExecuted: false` had no attempt that may have run.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createPolicy, isRPCException, RemoteCallException, type AttemptContext } from 'hotcold';

type Outcome = 'ok' | 'refused' | 'unwritten-reset' | 'reset' | 'answer' | 'hang' | 'thrown-string';

/** Whether an attempt with this outcome may have run on the server. */
const mayHaveRun = (outcome: Outcome): boolean => outcome !== 'refused' && outcome !== 'unwritten-reset';

function perform(outcome: Outcome, context: AttemptContext): Promise<string> {
  switch (outcome) {
    case 'ok':
      return Promise.resolve('ok');
    case 'refused':
      return Promise.reject(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }));
    case 'unwritten-reset':
      context.report({ written: false });
      return Promise.reject(Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }));
    case 'reset':
      return Promise.reject(Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }));
    case 'answer':
      return Promise.reject(new RemoteCallException(409, 'conflict', undefined));
    case 'hang':
      return new Promise<never>(() => undefined); // ignores its signal: the attempt timeout ends it
    case 'thrown-string':
      return Promise.reject(new Error('something odd'));
  }
}

describe('pipeline safety property', () => {
  it('a non-idempotent call that may have run is never re-run; "not executed" only when no attempt may have run', async () => {
    const outcome = fc.constantFrom<Outcome>('ok', 'refused', 'unwritten-reset', 'reset', 'answer', 'hang', 'thrown-string');
    await fc.assert(
      fc.asyncProperty(fc.array(outcome, { minLength: 1, maxLength: 8 }), fc.boolean(), async (script, withProbe) => {
        const policy = createPolicy({
          retry: { maxAttempts: 8, minDelayMs: 1, maxDelayMs: 2 },
          reconnect: { minDelayMs: 1, maxDelayMs: 2, probeTimeoutMs: 200 },
          breaker: false,
          budget: false,
          timeoutMs: 20,
          ...(withProbe ? { probe: async () => true } : {}),
        });
        const ran: Outcome[] = [];
        try {
          const result = await policy
            .execute((context) => {
              const next = script[ran.length] ?? 'ok';
              ran.push(next);
              return perform(next, context);
            }, { name: 'transfer' })
            .then(
              (value) => ({ ok: true as const, value }),
              (error: unknown) => ({ ok: false as const, error }),
            );
          const firstMaybe = ran.findIndex(mayHaveRun);
          // Never re-run after an attempt that may have run.
          if (firstMaybe !== -1) expect(ran.length).toBe(firstMaybe + 1);
          if (!result.ok) {
            expect(isRPCException(result.error)).toBe(true);
            const error = result.error as { mayHaveExecuted: boolean };
            // "Not executed" only when no attempt may have run; "maybe" only when one may have.
            expect(error.mayHaveExecuted).toBe(ran.some(mayHaveRun));
          } else {
            expect(ran.at(-1)).toBe('ok');
          }
        } finally {
          await policy.close();
        }
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
