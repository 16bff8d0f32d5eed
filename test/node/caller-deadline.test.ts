/**
 * `X-Hotcold-Timeout-Ms` (DESIGN §1): a node does not run what its caller has given up on.
 * Real node, real SQLite, raw node:http requests.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { rawRpc } from './raw-http.js';
import { fixture, startNode, until, type Fixture } from './support.js';

let f: Fixture;
afterEach(async () => {
  await f?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("the caller's remaining time", () => {
  it('under overload, calls that cannot get a transaction slot before their time is spent are answered 503 EXPIRED and never run', async () => {
    f = fixture();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding = false;
    let worked = 0;
    const { url, node, lease } = await startNode(f, 'alpha', {
      updateInterval: 500,
      waitInterval: 5000,
      maxConcurrentTransactions: 1,
      handlers: {
        hold: async () => {
          holding = true;
          await held;
          return 'held';
        },
        work: () => ++worked,
      },
    });
    await until(() => node.status === 'active');
    const token = lease.current?.token;
    const hold = rawRpc(url, 'hold', {});
    await until(() => holding, 10_000, 'slot taken');
    // Whatever happens, free the slot after a while (on a node that ignores the header the
    // abandoned calls then run: that is the failure this test shows).
    const safety = setTimeout(release, 5000);
    try {
      const answers = await Promise.all(Array.from({ length: 5 }, (_, i) => rawRpc(url, 'work', {}, { 'x-hotcold-timeout-ms': '200' }, i + 1)));
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({ error: 'EXPIRED', node: 'alpha' });
        expect(answer.headers['x-hotcold-node']).toBe('alpha');
        expect(answer.headers['x-hotcold-epoch']).toBe(String(token));
      }
      expect(worked).toBe(0);
    } finally {
      clearTimeout(safety);
      release();
    }
    expect((await hold).body.result).toBe('held');
    // The slot is free again: a call with time left runs.
    expect((await rawRpc(url, 'work', {}, { 'x-hotcold-timeout-ms': '5000' })).body.result).toBe(1);
    expect(worked).toBe(1);
  });

  it('a call whose time runs out while it runs is answered 503 EXPIRED at once and rolled back', async () => {
    f = fixture();
    let finished = false;
    const { url, node, store } = await startNode(f, 'alpha', {
      updateInterval: 500,
      waitInterval: 8000,
      handlers: {
        slow: async (_p: unknown, ctx: HandlerContext) => {
          await ctx.tx.execute('CREATE TABLE IF NOT EXISTS slow_rows (k TEXT)');
          await ctx.tx.execute("INSERT INTO slow_rows (k) VALUES ('x')");
          await sleep(2000);
          finished = true;
          return 'late';
        },
      },
    });
    await until(() => node.status === 'active');
    const answer = await rawRpc(url, 'slow', {}, { 'x-hotcold-timeout-ms': '150', 'idempotency-key': 'late-1' });
    // Answered before the handler even finished: the node did not wait for it.
    expect(finished).toBe(false);
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'EXPIRED', node: 'alpha' });
    expect(answer.headers['x-hotcold-node']).toBe('alpha');
    await until(() => finished, 10_000, 'handler returned');
    await until(() => node.inFlight === 0, 10_000, 'rollback');
    const rows = await store.transaction(async (tx) => {
      await tx.execute('CREATE TABLE IF NOT EXISTS slow_rows (k TEXT)');
      return tx.query("SELECT COUNT(*) AS c FROM slow_rows");
    });
    expect(Number(rows[0]?.c)).toBe(0);
    const records = await store.transaction((tx) => tx.query("SELECT COUNT(*) AS c FROM hotcold_idempotency WHERE idem_key = 'late-1'"));
    expect(Number(records[0]?.c)).toBe(0);
  });

  it('a time already spent (0) is EXPIRED without running; a malformed value is 400 invalid request, not run', async () => {
    f = fixture();
    let ran = 0;
    const { url, node } = await startNode(f, 'alpha', { handlers: { ping: () => ++ran } });
    await until(() => node.status === 'active');
    const spent = await rawRpc(url, 'ping', {}, { 'x-hotcold-timeout-ms': '0' });
    expect(spent.status).toBe(503);
    expect(spent.body.error).toBe('EXPIRED');
    for (const bad of ['-5', 'abc', '1.5', '10s', '99999999999', '']) {
      const answer = await rawRpc(url, 'ping', {}, { 'x-hotcold-timeout-ms': bad }, 7);
      expect({ bad, status: answer.status }).toEqual({ bad, status: 400 });
      expect(answer.body).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32600 } });
      expect(answer.headers['x-hotcold-node']).toBe('alpha');
    }
    expect(ran).toBe(0);
    expect((await rawRpc(url, 'ping', {}, { 'x-hotcold-timeout-ms': '30000' })).body.result).toBe(1);
  });
});

describe("the caller's remaining time on a feed long-poll", () => {
  it('a long-poll still waiting at the caller\'s deadline ends with 503 EXPIRED and node headers', async () => {
    f = fixture();
    const { url, node } = await startNode(f, 'alpha', { updateInterval: 500, waitInterval: 5000 });
    await until(() => node.status === 'active');
    const answer = await rawRpc(url, 'hotcold.feed', { feed: 'quiet', after: 0, waitMs: 10_000 }, { 'x-hotcold-timeout-ms': '300' });
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'EXPIRED', node: 'alpha' });
    expect(answer.headers['x-hotcold-node']).toBe('alpha');
    expect(answer.tookMs).toBeLessThan(9_000);
  });
});

describe('a caller that went away', () => {
  it('a queued call whose caller closed its connection is never started', async () => {
    f = fixture();
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let holding = false;
    let worked = 0;
    const { url, node } = await startNode(f, 'alpha', {
      updateInterval: 500,
      waitInterval: 5000,
      maxConcurrentTransactions: 1,
      handlers: {
        hold: async () => {
          holding = true;
          await held;
          return 'held';
        },
        work: () => ++worked,
      },
    });
    await until(() => node.status === 'active');
    const hold = rawRpc(url, 'hold', {});
    await until(() => holding, 10_000, 'slot taken');
    const { default: http } = await import('node:http');
    const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'work', params: {} });
    const req = http.request(`${url}/rpc`, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(body.length) } });
    req.on('error', () => {});
    req.end(body);
    // The request is queued behind 'hold'; then its caller gives up.
    await until(() => node.inFlight === 2, 10_000, 'call queued');
    req.destroy();
    await until(() => node.inFlight === 1, 10_000, 'abandoned call dropped');
    release();
    expect((await hold).body.result).toBe('held');
    await until(() => node.inFlight === 0, 10_000, 'idle');
    expect(worked).toBe(0);
  });
});
