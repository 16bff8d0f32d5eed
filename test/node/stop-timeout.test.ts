/**
 * `stop({ drain: true, timeoutMs })` with a timeoutMs that is no time is refused (a
 * ConfigurationError naming it), and the node keeps serving: NaN made the drain wait with no
 * bound (spinning a 0 ms timer until the calls ended), a string ('5000') was added to the clock as
 * text and ended the drain at once, aborting the calls it was asked to let finish, and a negative
 * skipped the drain. Real node on SQLite, a real call in flight.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from 'hotcold';
import { rawRpc } from './raw-http.js';
import { fixture, startNode, until, type Fixture } from './support.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.cleanup();
  f = undefined;
});

describe("stop()'s drain timeout", () => {
  it('one that is no time is a ConfigurationError naming timeoutMs; nothing stops, the call in flight finishes', async () => {
    f = fixture();
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const { url, node } = await startNode(f, 'alpha', {
      handlers: {
        slow: async () => {
          await gate;
          return 'finished';
        },
      },
    });
    await until(() => node.status === 'active', 15_000, 'alpha active');
    const inFlight = rawRpc(url, 'slow', {});
    await until(() => node.inFlight === 1, 10_000, 'slow call running');
    const bad: Record<string, unknown> = { "'5000'": '5000', '-1': -1, NaN: Number.NaN, Infinity, '{}': {} };
    for (const [label, timeoutMs] of Object.entries(bad)) {
      const error = await node.stop({ drain: true, timeoutMs: timeoutMs as number }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, label).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field, label).toBe('timeoutMs');
      expect(node.status, label).toBe('active');
    }
    finish();
    expect((await inFlight).body).toMatchObject({ result: 'finished' });
    // A good one still stops it (the refused ones did not take the node's one stop()).
    await node.stop({ drain: true, timeoutMs: 10_000 });
    expect(node.status).toBe('stopped');
  });
});
