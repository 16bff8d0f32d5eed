/**
 * The pipeline's internal end notice of an attempt it times (`onEnded`, used by hotcold/axios in
 * place of the attempt's AbortSignal): told once, with the reason the signal carries, for each
 * way the pipeline ends an attempt; not told for an attempt that settles by itself.
 */
import { describe, expect, it } from 'vitest';
import { createPolicy, type AttemptContext } from '../../src/pipeline/index.js';

interface Notice {
  onEnded(watcher: { attemptEnded(error: Error): void }): boolean;
}

/** An attempt function that never settles and records what the notice told. */
function watched(heard: Error[]): (context: AttemptContext) => Promise<never> {
  return (context) => {
    expect((context as unknown as Notice).onEnded({ attemptEnded: (error) => heard.push(error) })).toBe(true);
    return new Promise<never>(() => undefined);
  };
}

describe('onEnded', () => {
  it("tells the attempt's timeout, as its signal would abort", async () => {
    const policy = createPolicy({ timeoutMs: 30, retry: { maxAttempts: 1 } });
    const heard: Error[] = [];
    await expect(policy.execute(watched(heard), { name: 'slow' })).rejects.toMatchObject({ kind: 'unknown-outcome' });
    expect(heard).toHaveLength(1);
    expect(heard[0]?.name).toBe('TimeoutError');
    await policy.close();
  });

  it("tells the caller's abort, with the caller's reason as its cause", async () => {
    const policy = createPolicy({ timeoutMs: 60_000, retry: { maxAttempts: 1 } });
    const heard: Error[] = [];
    const caller = new AbortController();
    const call = policy.execute(watched(heard), { name: 'held', signal: caller.signal });
    const why = new Error('user left');
    caller.abort(why);
    await expect(call).rejects.toMatchObject({ kind: 'call-aborted' });
    expect(heard).toHaveLength(1);
    expect(heard[0]?.name).toBe('AbortError');
    expect(heard[0]?.cause).toBe(why);
    await policy.close();
  });

  it('tells close()', async () => {
    const policy = createPolicy({ timeoutMs: 60_000, retry: { maxAttempts: 1 } });
    const heard: Error[] = [];
    const call = policy.execute(watched(heard), { name: 'open' });
    await policy.close();
    await expect(call).rejects.toMatchObject({ kind: 'client-closed' });
    expect(heard).toHaveLength(1);
    expect(heard[0]?.name).toBe('AbortError');
  });

  it('tells nothing when the attempt settles by itself', async () => {
    const policy = createPolicy({ timeoutMs: 20 });
    const heard: Error[] = [];
    const value = await policy.execute((context) => {
      (context as unknown as Notice).onEnded({ attemptEnded: (error) => heard.push(error) });
      return Promise.resolve(7);
    }, { name: 'quick' });
    expect(value).toBe(7);
    // Past the attempt's timeout: the settled attempt is out of the registry, nothing fires for it.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(heard).toEqual([]);
    await policy.close();
  });

  it('tells at once a watcher that comes after the attempt ended', async () => {
    const policy = createPolicy({ timeoutMs: 20, retry: { maxAttempts: 1 } });
    let context: AttemptContext | undefined;
    const call = policy.execute((c) => {
      context = c;
      return new Promise<never>(() => undefined);
    }, { name: 'late' });
    await expect(call).rejects.toMatchObject({ kind: 'unknown-outcome' });
    const heard: Error[] = [];
    (context as unknown as Notice).onEnded({ attemptEnded: (error) => heard.push(error) });
    expect(heard.map((e) => e.name)).toEqual(['TimeoutError']);
    await policy.close();
  });
});
