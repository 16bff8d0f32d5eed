import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationException,
  CallAbortedException,
  ConnectionFailureException,
  DeadlineExceededException,
  PendingLimitException,
  RemoteCallException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  type RPCException,
} from '../../src/errors.js';
import { resolveRetryOptions } from '../../src/policy/backoff.js';
import { createRetryBudget } from '../../src/policy/budget.js';
import { Deadline } from '../../src/policy/deadline.js';
import { retryAfterFailure, type RetryEvent } from '../../src/policy/retry.js';
import { decideRetry, type RetryRuleContext } from '../../src/policy/retry-rules.js';

const notIdempotent: RetryRuleContext = { idempotent: false, hasIdempotencyKey: true, serverDeduplicates: false };
const idempotent: RetryRuleContext = { ...notIdempotent, idempotent: true };
const fast = resolveRetryOptions({ maxAttempts: 5, minDelayMs: 1, maxDelayMs: 4, jitter: 'none' });
const refused = (): ConnectionFailureException => new ConnectionFailureException('connection refused');

/** An attempt function that fails with the given errors in turn, then succeeds. */
function script(failures: RPCException[], result = 'ok') {
  const seen: number[] = [];
  const fn = async (n: number): Promise<string> => {
    seen.push(n);
    const next = failures.shift();
    if (next) throw next;
    return result;
  };
  return { fn, seen };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('retryAfterFailure', () => {
  it('retries a connection failure with backoff and hands the wire attempt numbers on', async () => {
    const events: RetryEvent[] = [];
    const { fn, seen } = script([refused()]);
    const result = await retryAfterFailure(refused(), fn, { retry: fast, rules: notIdempotent, onRetry: (e) => events.push(e) });
    expect(result).toBe('ok');
    expect(seen).toEqual([2, 3]);
    expect(events.map((e) => [e.attempt, e.delayMs, e.delaySource, e.reason])).toEqual([
      [2, 1, 'backoff', 'not-executed'],
      [3, 2, 'backoff', 'not-executed'],
    ]);
  });

  it('uses the injected random source for jitter', async () => {
    const events: RetryEvent[] = [];
    const retry = resolveRetryOptions({ maxAttempts: 3, minDelayMs: 8, maxDelayMs: 100, jitter: 'full' });
    await retryAfterFailure(refused(), script([refused()]).fn, {
      retry,
      rules: idempotent,
      random: () => 0.25,
      onRetry: (e) => events.push(e),
    });
    expect(events.map((e) => e.delayMs)).toEqual([2, 4]);
  });

  it('throws the original error when the rules say no (not idempotent, unknown outcome)', async () => {
    const first = new UnknownOutcomeException('reset after write', { attempts: 1 });
    const { fn, seen } = script([]);
    expect(await rejection(retryAfterFailure(first, fn, { retry: fast, rules: notIdempotent }))).toBe(first);
    expect(seen).toEqual([]);
  });

  it('keeps a RemoteCallException as it is, even after retries', async () => {
    const remote = new RemoteCallException(-32000, 'insufficient funds', null);
    const { fn } = script([remote]);
    expect(await rejection(retryAfterFailure(refused(), fn, { retry: fast, rules: notIdempotent }))).toBe(remote);
  });

  it('retries an unknown outcome under the dedup rule', async () => {
    const { fn, seen } = script([]);
    const rules = { ...notIdempotent, serverDeduplicates: true };
    expect(await retryAfterFailure(new UnknownOutcomeException('504'), fn, { retry: fast, rules })).toBe('ok');
    expect(seen).toEqual([2]);
  });

  it('does not let a later "not executed" error hide that an earlier attempt may have run', async () => {
    const { fn } = script([new AuthenticationException(403, 'forbidden')]);
    const error = await rejection(retryAfterFailure(new UnknownOutcomeException('reset'), fn, { retry: fast, rules: idempotent }));
    expect(error).toBeInstanceOf(AuthenticationException);
    const auth = error as AuthenticationException;
    expect(auth.status).toBe(403);
    expect(auth.mayHaveExecuted).toBe(true);
    expect(auth.attempts).toBe(2);
    expect((auth.cause as RPCException).kind).toBe('authentication');
  });

  it('gives up after maxAttempts with every cause, in order', async () => {
    const { fn, seen } = script([refused(), new UnknownOutcomeException('reset'), refused(), refused(), refused()]);
    const error = (await rejection(retryAfterFailure(refused(), fn, { retry: fast, rules: idempotent, method: 'balance' }))) as RetriesExhaustedException;
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    expect(error.reason).toBe('attempts');
    expect(error.method).toBe('balance');
    expect(error.attempts).toBe(5);
    expect(seen).toEqual([2, 3, 4, 5]);
    expect(error.causes.map((c) => c.kind)).toEqual(['connection-failure', 'connection-failure', 'unknown-outcome', 'connection-failure', 'connection-failure']);
    expect(error.mayHaveExecuted).toBe(true);
  });

  it('maxAttempts 1 never retries', async () => {
    const { fn, seen } = script([]);
    const error = await rejection(retryAfterFailure(refused(), fn, { retry: resolveRetryOptions(false), rules: idempotent }));
    expect((error as RetriesExhaustedException).reason).toBe('attempts');
    expect(seen).toEqual([]);
  });

  it("honours the server's Retry-After, capped by maxRetryAfterMs", async () => {
    const events: RetryEvent[] = [];
    const retry = resolveRetryOptions({ maxAttempts: 3, minDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 30 });
    const notActive = new ConnectionFailureException('NOT_ACTIVE', { retryAfterMs: 60_000 });
    const started = performance.now();
    await retryAfterFailure(notActive, script([new ConnectionFailureException('x', { retryAfterMs: 5 })]).fn, {
      retry,
      rules: notIdempotent,
      onRetry: (e) => events.push(e),
    });
    expect(events.map((e) => [e.delayMs, e.delaySource])).toEqual([
      [30, 'retry-after'],
      [5, 'retry-after'],
    ]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(30);
  });

  it('consults the budget before each retry and reports exhaustion once', async () => {
    let now = 0;
    const budget = createRetryBudget({ ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 }, () => now); // one retry per window
    let exhausted = 0;
    const { fn, seen } = script([refused(), refused()]);
    const error = (await rejection(
      retryAfterFailure(refused(), fn, { retry: fast, rules: idempotent, budget, onBudgetExhausted: () => exhausted++ }),
    )) as RetriesExhaustedException;
    expect(error.reason).toBe('budget');
    expect(error.causes).toHaveLength(2);
    expect(seen).toEqual([2]);
    expect(exhausted).toBe(1);
    now += 10_000;
    expect(budget.tryRetry()).toBe(true);
  });

  it('does not sleep past the deadline: a retry that would is not made', async () => {
    // The alternatives are far away: sleeping the backoff (50 s) or until the deadline (10 s).
    // Failing before the deadline passed shows it gave up without sleeping.
    const retry = resolveRetryOptions({ maxAttempts: 5, minDelayMs: 50_000, maxDelayMs: 50_000, jitter: 'none' });
    const deadline = new Deadline(10_000);
    const { fn, seen } = script([]);
    const error = (await rejection(retryAfterFailure(refused(), fn, { retry, rules: idempotent, deadline }))) as DeadlineExceededException;
    expect(deadline.expired()).toBe(false);
    expect(error).toBeInstanceOf(DeadlineExceededException);
    expect(error.mayHaveExecuted).toBe(false);
    expect(error.attempts).toBe(1);
    expect(seen).toEqual([]);
  });

  it('stops at an expired deadline even when the rules would retry', async () => {
    let now = 0;
    const deadline = new Deadline(100, () => now);
    const fn = async (): Promise<string> => {
      now = 200;
      throw new UnknownOutcomeException('timeout');
    };
    const error = (await rejection(retryAfterFailure(refused(), fn, { retry: fast, rules: idempotent, deadline }))) as DeadlineExceededException;
    expect(error).toBeInstanceOf(DeadlineExceededException);
    expect(error.mayHaveExecuted).toBe(true);
    expect(error.attempts).toBe(2);
  });

  it('an abort cuts the backoff sleep short at once and leaves no timer behind', async () => {
    const baseline = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const retry = resolveRetryOptions({ maxAttempts: 5, minDelayMs: 10_000, maxDelayMs: 10_000, jitter: 'none' });
    const controller = new AbortController();
    const started = performance.now();
    const pending = retryAfterFailure(new UnknownOutcomeException('reset'), script([]).fn, {
      retry,
      rules: idempotent,
      signal: controller.signal,
      onRetry: () => setImmediate(() => controller.abort()),
    });
    const error = (await rejection(pending)) as CallAbortedException;
    // Cut short: sooner than the 10 s backoff it was sleeping (the alternative), however loaded.
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(error).toBeInstanceOf(CallAbortedException);
    expect(error.mayHaveExecuted).toBe(true); // attempt 1 was an unknown outcome
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(baseline);
  });

  it('an already aborted signal ends the loop before any retry', async () => {
    const controller = new AbortController();
    controller.abort();
    const { fn, seen } = script([]);
    const error = await rejection(retryAfterFailure(refused(), fn, { retry: fast, rules: idempotent, signal: controller.signal }));
    expect(error).toBeInstanceOf(CallAbortedException);
    expect((error as CallAbortedException).mayHaveExecuted).toBe(false);
    expect(seen).toEqual([]);
  });

  it('an abort that surfaces as the raw signal reason still ends as CallAbortedException', async () => {
    const controller = new AbortController();
    const fn = async (): Promise<string> => {
      controller.abort();
      throw controller.signal.reason; // e.g. a DOMException from a wait that listened to the signal
    };
    const error = await rejection(retryAfterFailure(new UnknownOutcomeException('reset'), fn, { retry: fast, rules: idempotent, signal: controller.signal }));
    expect(error).toBeInstanceOf(CallAbortedException);
    expect((error as CallAbortedException).attempts).toBe(1);
    expect((error as CallAbortedException).mayHaveExecuted).toBe(true);
  });

  it('surfaces a foreign error (a bug) unchanged and does not retry it', async () => {
    const bug = new TypeError('cannot read properties of undefined');
    const { fn, seen } = script([]);
    expect(await rejection(retryAfterFailure(bug, fn, { retry: fast, rules: idempotent }))).toBe(bug);
    expect(seen).toEqual([]);
  });
});

describe('retryAfterFailure (property)', () => {
  const errorArb: fc.Arbitrary<() => RPCException> = fc.constantFrom(
    () => new ConnectionFailureException('refused'),
    () => new UnknownOutcomeException('reset'),
    () => new RemoteCallException(-32000, 'no', null),
    () => new RemoteCallException(-32099, 'busy', null),
    () => new AuthenticationException(401, 'who'),
    () => new CallAbortedException('aborted', { mayHaveExecuted: false }),
    () => new PendingLimitException('full'),
  );

  it('makes exactly the attempts the rules allow, and the final error says "may have run" iff some attempt may have', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(errorArb, { minLength: 1, maxLength: 7 }),
        fc.integer({ min: 1, max: 6 }),
        fc.record({ idempotent: fc.boolean(), hasIdempotencyKey: fc.boolean(), serverDeduplicates: fc.boolean(), retryOnCodes: fc.constant([-32099]) }),
        async (makers, maxAttempts, rules) => {
          const errors = makers.map((make) => make());
          // The model: attempt i fails with errors[i-1] (or succeeds past the list).
          let expectedAttempts = 0;
          let expectedOutcome: 'ok' | 'error' = 'ok';
          for (let i = 1; i <= maxAttempts; i++) {
            expectedAttempts = i;
            const e = errors[i - 1];
            if (e === undefined) break;
            expectedOutcome = 'error';
            if (!decideRetry(e, rules).retry || i === maxAttempts) break;
            expectedOutcome = 'ok';
          }
          const [first, ...rest] = errors;
          const { fn, seen } = script([...rest]);
          const retry = resolveRetryOptions({ maxAttempts, minDelayMs: 0, maxDelayMs: 0, jitter: 'none' });
          let outcome: unknown;
          try {
            outcome = await retryAfterFailure(first, fn, { retry, rules });
          } catch (error) {
            outcome = error;
          }
          expect(1 + seen.length).toBe(expectedAttempts);
          if (expectedOutcome === 'ok') {
            expect(outcome).toBe('ok');
            return;
          }
          const made = errors.slice(0, expectedAttempts);
          const last = made[made.length - 1] as RPCException;
          const error = outcome as RPCException;
          expect(error.mayHaveExecuted).toBe(made.some((e) => e.mayHaveExecuted));
          expect([last.kind, 'retries-exhausted']).toContain(error.kind);
          if (error instanceof RetriesExhaustedException && error.reason === 'attempts') expect(error.causes).toEqual(made);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('which retries cost budget (issue 8 §3)', () => {
  /** A budget that counts what is asked of it and refuses everything. */
  function countingBudget() {
    let asked = 0;
    return {
      budget: { recordCall: () => undefined, tryRetry: () => ((asked += 1), false), available: () => 0 },
      asked: () => asked,
    };
  }

  /** An outage hold that is (or is not) holding, recovers at once, and was (or was not) confirmed by a failed probe. */
  const hold = (holding: boolean, confirmed: boolean) => ({
    current: () => (holding ? 7 : undefined),
    over: async () => true,
    confirmed: (id: number) => confirmed && id === 7,
  });

  it('a retry paced by a real outage (a probe failed) does not ask the budget; an immediate one does', async () => {
    const held = countingBudget();
    const ok = await retryAfterFailure(refused(), script([refused()]).fn, { retry: fast, rules: notIdempotent, budget: held.budget, outage: hold(true, true) });
    expect(ok).toBe('ok');
    expect(held.asked()).toBe(0);

    const immediate = countingBudget();
    const error = await rejection(retryAfterFailure(refused(), script([]).fn, { retry: fast, rules: notIdempotent, budget: immediate.budget, outage: hold(false, false) }));
    expect(error).toMatchObject({ kind: 'retries-exhausted', reason: 'budget' });
    expect(immediate.asked()).toBe(1);
  });

  it('a retry held through a blip (the first probe succeeded) pays when the blip is over', async () => {
    const blip = countingBudget();
    const { fn, seen } = script([]);
    const error = await rejection(retryAfterFailure(refused(), fn, { retry: fast, rules: notIdempotent, budget: blip.budget, outage: hold(true, false) }));
    expect(error).toMatchObject({ kind: 'retries-exhausted', reason: 'budget' });
    expect(blip.asked()).toBe(1);
    expect(seen).toEqual([]); // refused before the attempt went out
  });

  it('property: the budget is asked exactly for the retries not paced by a confirmed outage, whatever the failure', async () => {
    const failure = fc.constantFrom<'refused' | 'maybe'>('refused', 'maybe');
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(failure, fc.boolean(), fc.boolean()), { minLength: 1, maxLength: 6 }), async (steps) => {
        let asked = 0;
        const errors = steps.map(([kind]) => (kind === 'refused' ? refused() : new UnknownOutcomeException('reset after write')));
        const [first, ...rest] = errors;
        const retry = resolveRetryOptions({ maxAttempts: steps.length + 1, minDelayMs: 0, maxDelayMs: 0, jitter: 'none' });
        const attempts = script(rest);
        // The hold at the decision after failure k (k retries made so far): outage id k.
        const step = () => steps[attempts.seen.length];
        const result = await retryAfterFailure(first, attempts.fn, {
          retry,
          rules: idempotent,
          budget: { recordCall: () => undefined, tryRetry: () => ((asked += 1), true), available: () => Infinity },
          outage: {
            current: () => (step()?.[1] === true ? attempts.seen.length : undefined),
            over: async () => true,
            confirmed: (id: number) => steps[id]?.[2] === true,
          },
        });
        expect(result).toBe('ok');
        expect(asked).toBe(steps.filter(([, holding, confirmed]) => !(holding && confirmed)).length);
      }),
      { numRuns: 200 },
    );
  });

  it('an abort whose reason is RetriesExhausted (the connection gave up) ends the call with that reason and its own causes', async () => {
    const controller = new AbortController();
    const slow = resolveRetryOptions({ maxAttempts: 5, minDelayMs: 60_000, maxDelayMs: 60_000, jitter: 'none' });
    const pending = retryAfterFailure(refused(), script([]).fn, { retry: slow, rules: notIdempotent, signal: controller.signal });
    controller.abort(new RetriesExhaustedException('reconnecting failed', 'reconnect', [], { mayHaveExecuted: false }));
    const error = await rejection(pending);
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    expect(error).toMatchObject({ reason: 'reconnect', mayHaveExecuted: false, attempts: 1 });
    expect((error as RetriesExhaustedException).causes.map((c) => c.kind)).toEqual(['connection-failure']);
  });
});
