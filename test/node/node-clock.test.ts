/**
 * createNode(options, clock): the node's deadlines run on an injected clock, so a test of a long
 * drain timeout does not sleep through it. Real node, real SQLite, real HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLease, sqliteStore } from 'hotcold/lease';
import { createNode, type HandlerContext } from 'hotcold/node';
import { ManualClock } from './manual-clock.js';
import { rawRpc } from './raw-http.js';
import { fixture, until, type Fixture } from './support.js';

let f: Fixture;
afterEach(async () => {
  await f?.cleanup();
});

describe('the node clock', () => {
  it('a drain timeout of 10 minutes ends when the clock says so: the stuck call is answered NOT_EXECUTED, stop() resolves', async () => {
    f = fixture();
    const clock = new ManualClock();
    const store = sqliteStore(f.dbPath);
    f.stores.push(store);
    const lease = createLease({ store, machineName: 'alpha', updateInterval: 500, waitInterval: 5000 });
    f.leases.push(lease);
    let started = false;
    const node = createNode(
      {
        lease,
        port: 0,
        handlers: {
          stuck: async (_p: unknown, ctx: HandlerContext) => {
            started = true;
            await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
            return 'never';
          },
        },
      },
      clock,
    );
    f.nodes.push(node);
    const { url } = await node.start();
    await until(() => node.status === 'active');
    const call = rawRpc(url, 'stuck', {});
    await until(() => started, 10_000, 'handler started');
    let stopped = false;
    const stopping = node.stop({ drain: true, timeoutMs: 600_000 }).then(() => (stopped = true));
    await new Promise((r) => setTimeout(r, 100));
    expect(stopped).toBe(false);
    expect(node.inFlight).toBe(1);
    clock.advance(600_000);
    const answer = await call;
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    await stopping;
    expect(node.inFlight).toBe(0);
  });
});
