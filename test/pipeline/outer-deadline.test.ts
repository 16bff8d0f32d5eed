/**
 * `execute`'s `outerDeadlineMs`: a bound from outside the call (the caller's own deadline) that
 * only ever tightens. The call ends at the earlier of it and its deadline (`deadlineMs`, the
 * operation's, the policy's); `deadlineMs` per call still replaces the operation's and the
 * policy's, as documented. `hotcold/grpc` passes the caller's grpc-js `deadline` this way
 * (test/grpc/deadline-precedence.test.ts has the wire side).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, DeadlineExceededException, createPolicy, type AttemptContext, type Policy } from 'hotcold';

const policies: Policy[] = [];
afterEach(async () => {
  await Promise.all(policies.splice(0).map((p) => p.close()));
});

function policyOf(options: Parameters<typeof createPolicy>[0]): Policy {
  const policy = createPolicy(options);
  policies.push(policy);
  return policy;
}

/** The context of the call's first attempt. */
async function firstAttempt(policy: Policy, options: Omit<Parameters<Policy['execute']>[1], 'name'>, name = 'op'): Promise<AttemptContext> {
  let seen: AttemptContext | undefined;
  await policy.execute((context) => {
    seen = context;
    return 'ok';
  }, { name, ...options });
  return seen as AttemptContext;
}

describe('outerDeadlineMs', () => {
  it("is the call's deadline when it ends before the policy's", async () => {
    const context = await firstAttempt(policyOf({ deadlineMs: 60_000, timeoutMs: 30_000 }), { outerDeadlineMs: 1000 });
    expect(context.deadlineLeftMs).toBeLessThanOrEqual(1000);
    expect(context.timeoutMs).toBeLessThanOrEqual(1000);
  });

  it("does not loosen the policy's, the operation's, or a per-call deadlineMs that ends first", async () => {
    const policy = policyOf({ deadlineMs: 1000, methods: { slow: { deadlineMs: 2000 } } });
    expect((await firstAttempt(policy, { outerDeadlineMs: 3_600_000 })).deadlineLeftMs).toBeLessThanOrEqual(1000);
    expect((await firstAttempt(policy, { outerDeadlineMs: 3_600_000 }, 'slow')).deadlineLeftMs).toBeLessThanOrEqual(2000);
    expect((await firstAttempt(policy, { outerDeadlineMs: 3_600_000, deadlineMs: 1500 })).deadlineLeftMs).toBeLessThanOrEqual(1500);
    // deadlineMs per call still replaces the policy's (documented), and is itself bounded.
    expect((await firstAttempt(policy, { deadlineMs: 5000 })).deadlineLeftMs).toBeGreaterThan(1000);
    expect((await firstAttempt(policy, { deadlineMs: 5000, outerDeadlineMs: 1500 })).deadlineLeftMs).toBeLessThanOrEqual(1500);
  });

  it('Infinity is no bound', async () => {
    const context = await firstAttempt(policyOf({ deadlineMs: 2000 }), { outerDeadlineMs: Infinity });
    expect(context.deadlineLeftMs).toBeGreaterThan(1000);
    expect(context.deadlineLeftMs).toBeLessThanOrEqual(2000);
  });

  it('zero or less: the call is not started, DeadlineExceeded, not executed', async () => {
    const policy = policyOf({});
    for (const outerDeadlineMs of [0, -5, -Infinity]) {
      let ran = false;
      const error = await policy
        .execute(() => {
          ran = true;
          return 'ok';
        }, { name: 'op', outerDeadlineMs })
        .catch((e: unknown) => e);
      expect(ran, String(outerDeadlineMs)).toBe(false);
      expect(error, String(outerDeadlineMs)).toBeInstanceOf(DeadlineExceededException);
      expect((error as DeadlineExceededException).mayHaveExecuted).toBe(false);
      expect((error as DeadlineExceededException).attempts).toBe(0);
    }
  });

  it('no number (NaN, a string) is a ConfigurationError naming outerDeadlineMs', async () => {
    const policy = policyOf({});
    for (const outerDeadlineMs of [Number.NaN, '1000']) {
      const error = await policy.execute(() => 'ok', { name: 'op', outerDeadlineMs: outerDeadlineMs as number }).catch((e: unknown) => e);
      expect(error, String(outerDeadlineMs)).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe('outerDeadlineMs');
    }
  });

  it('a held call ends at it: no probe finds service, the hold ends at the outer bound', async () => {
    const policy = policyOf({
      deadlineMs: 3_600_000,
      maxReconnectAttempts: Infinity,
      reconnect: { minDelayMs: 20, maxDelayMs: 50 },
      probe: () => Promise.resolve(false),
      breaker: false,
      budget: false,
    });
    const refused = (): never => {
      throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    };
    const error = await policy.execute(refused, { name: 'op', outerDeadlineMs: 1000 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeadlineExceededException);
    expect((error as DeadlineExceededException).message).toContain('deadline of 1000 ms');
    expect((error as DeadlineExceededException).mayHaveExecuted).toBe(false);
  });
});
