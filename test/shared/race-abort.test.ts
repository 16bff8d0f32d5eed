/**
 * raceAbort never leaves the raced promise unhandled: a fence that fails after the lease was lost
 * (the signal already aborted) once became an unhandled rejection that ended `hotcold node` on
 * SIGCONT (e2e "SIGSTOPped, then resumed": the node exited instead of fencing itself).
 */
import { describe, expect, it } from 'vitest';
import { raceAbort } from '../../src/shared/race-abort.js';

function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    seen.push(reason);
  };
  process.on('unhandledRejection', onUnhandled);
  return run()
    .then(() => new Promise((resolve) => setTimeout(resolve, 50)))
    .then(() => {
      process.off('unhandledRejection', onUnhandled);
      return seen;
    });
}

describe('raceAbort', () => {
  it('with the signal already aborted, a raced promise that rejects is not left unhandled', async () => {
    const seen = await unhandledDuring(async () => {
      const aborted = AbortSignal.abort(new Error('lease lost'));
      const fence = Promise.reject(new Error('fenced: token 1 passed its self-fencing deadline'));
      await expect(raceAbort(fence, aborted)).rejects.toThrow('lease lost');
    });
    expect(seen).toEqual([]);
  });

  it('an abort first, then the raced promise rejects: still handled', async () => {
    const seen = await unhandledDuring(async () => {
      const controller = new AbortController();
      let fail: (e: Error) => void = () => undefined;
      const fence = new Promise<never>((_, reject) => (fail = reject));
      const raced = raceAbort(fence, controller.signal);
      controller.abort(new Error('lease lost'));
      await expect(raced).rejects.toThrow('lease lost');
      fail(new Error('late fence failure'));
    });
    expect(seen).toEqual([]);
  });
});
