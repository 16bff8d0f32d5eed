/** What the per-attempt evidence suites share: a quick policy, cleanups after each test, the RPC failure of a request. */
import { afterEach, expect } from 'vitest';
import { isRPCException, type AttachPolicyOptions } from 'hotcold/axios';

/** Two quick attempts, no breaker or budget: each test sees exactly what one repeat does. */
export const FAST: AttachPolicyOptions = {
  retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 },
  breaker: false,
  budget: false,
  timeoutMs: 5000,
};

/**
 * A list a test pushes its cleanups onto; after each test they run, last first, their failures
 * ignored (a server already closed by the test). Call at a suite file's top level.
 */
export function cleanupsAfterEach(): Array<() => Promise<unknown> | void> {
  const cleanups: Array<() => Promise<unknown> | void> = [];
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await Promise.resolve(c()).catch(() => undefined);
  });
  return cleanups;
}

/** The rejection of `promise` as the RPCException it must be. */
export async function rpcFailure(promise: Promise<unknown>): Promise<{ kind: string; mayHaveExecuted: boolean }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRPCException(error), String(error)).toBe(true);
  return error as { kind: string; mayHaveExecuted: boolean };
}
