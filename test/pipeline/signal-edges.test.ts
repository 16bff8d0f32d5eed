/**
 * The caller's `signal` at the edges of an attempt: aborted while the attempt function is still
 * running its synchronous part (before the pipeline starts racing it), and objects that look like
 * an AbortSignal but cannot be unlinked from.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CallAbortedException, ClientClosedException, ConfigurationError, createPolicy, type Policy } from 'hotcold';

const policies: Policy[] = [];
afterEach(async () => {
  await Promise.all(policies.splice(0).map((p) => p.close()));
});

describe("the caller's signal", () => {
  it('an abort during the function\'s synchronous part ends an attempt that ignores its signal, not its timeout', async () => {
    // An hour-long attempt timeout: only the abort can end this attempt within the test.
    const policy = createPolicy({ timeoutMs: 3_600_000, deadlineMs: 3_600_000 });
    policies.push(policy);
    const caller = new AbortController();
    let settled = false;
    const call = policy
      .execute(() => {
        caller.abort(new Error('user left')); // e.g. a callback the function runs aborts the request
        return new Promise<never>(() => undefined); // ignores its signal
      }, { name: 'op', idempotent: true, signal: caller.signal })
      .catch((error: unknown) => error)
      .finally(() => (settled = true));
    const start = Date.now();
    while (!settled && Date.now() - start < 20_000) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(true);
    const error = await call;
    expect(error).toBeInstanceOf(CallAbortedException);
    expect((error as CallAbortedException).mayHaveExecuted).toBe(true); // the function had started
  }, 40_000);

  it("close() during the function's synchronous part ends the call (ClientClosed) and leaves no timer armed", async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const before = timers();
    const policy = createPolicy({ timeoutMs: 3_600_000, deadlineMs: 3_600_000 });
    let settled = false;
    const call = policy
      .execute(() => {
        void policy.close();
        return new Promise<never>(() => undefined); // ignores its signal
      }, { name: 'op' })
      .catch((error: unknown) => error)
      .finally(() => (settled = true));
    const start = Date.now();
    while (!settled && Date.now() - start < 20_000) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(true);
    expect(await call).toBeInstanceOf(ClientClosedException);
    await policy.close();
    expect(timers()).toBeLessThanOrEqual(before);
  }, 40_000);

  it('an object that can be listened to but not unlistened from is a ConfigurationError, not a TypeError after the call', async () => {
    const policy = createPolicy({});
    policies.push(policy);
    const halfSignal = { aborted: false, reason: undefined, addEventListener: () => undefined };
    const error = await policy.execute(() => 'done', { name: 'op', signal: halfSignal as unknown as AbortSignal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toContain('signal');
  });
});
