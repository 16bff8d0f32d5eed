/**
 * A logger that fails must not break a call or the process: one that throws, and one whose
 * methods are `async` and reject (a remote log sink that is down) — the rejected promise is the
 * library's to absorb, or it becomes an unhandled rejection that ends the process. Real client
 * against a closed loopback port, so every retry and state change is logged.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, isRPCException, type HotcoldClient, type Logger } from 'hotcold';
import { closedPort } from '../axios/helpers.js';
import { FAST_RECONNECT, FAST_RETRY } from './helpers.js';

let client: HotcoldClient | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
});

/** Unhandled rejections while `run` runs and for a few turns of the event loop after it. */
async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => void seen.push(reason);
  process.on('unhandledRejection', listener);
  try {
    await run();
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setTimeout(resolve, 50));
  } finally {
    process.off('unhandledRejection', listener);
  }
  return seen;
}

describe('a failing logger', () => {
  const cases: Array<[string, () => Logger]> = [
    [
      'throws',
      () => {
        const fail = (): void => {
          throw new Error('log sink down');
        };
        return { debug: fail, info: fail, warn: fail, error: fail };
      },
    ],
    [
      'rejects (async methods)',
      () => {
        const fail = async (): Promise<void> => {
          await Promise.resolve();
          throw new Error('log sink down');
        };
        // What a user's async sink looks like: the type allows it, the lint rule is the point.
        // eslint-disable-next-line @typescript-eslint/no-misused-promises
        return { debug: fail, info: fail, warn: fail, error: fail };
      },
    ],
  ];
  for (const [name, make] of cases) {
    it(`that ${name} neither changes the call's outcome nor leaves an unhandled rejection`, async () => {
      const port = await closedPort();
      const unhandled = await unhandledDuring(async () => {
        client = createClient({ url: `http://127.0.0.1:${port}`, logger: make(), retry: FAST_RETRY, reconnect: FAST_RECONNECT, deadlineMs: 1500 });
        const error = await client.call('balance', { account: 'A' }).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(isRPCException(error)).toBe(true);
        expect((error as { mayHaveExecuted: boolean }).mayHaveExecuted).toBe(false);
        await client.close();
      });
      expect(unhandled).toEqual([]);
    });
  }
});
