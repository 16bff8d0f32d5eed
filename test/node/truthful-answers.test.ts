/**
 * A node's answers tell the truth, at once (issue 7 §3), against a PRIVATE PostgreSQL that the
 * tests freeze (SIGSTOP), cut (a proxy that holds the traffic) and restart. Requests are raw
 * node:http, so what is checked is the node's answer itself, not a client's reading of it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startPausingProxy, type PausingProxy } from './pausing-proxy.js';
import { rawRpc, type RawAnswer } from './raw-http.js';
import { fixture, startNode, until, uniq, type Fixture } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(privatePostgresAvailable())('truthful answers on a private PostgreSQL', () => {
  let pg: PrivatePostgres;
  let proxy: PausingProxy | undefined;
  let f: Fixture;
  beforeAll(async () => {
    pg = await startPrivatePostgres();
  }, 120_000);
  afterAll(async () => {
    await pg?.stop();
  });
  afterEach(async () => {
    pg.thaw();
    proxy?.resume();
    await f?.cleanup();
    await proxy?.close();
    proxy = undefined;
  });

  const tables = () => {
    const id = uniq();
    return { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}`, hits: `h_${id}` };
  };

  async function node(db: string, t: ReturnType<typeof tables>, handlers: Record<string, unknown>, extra: Record<string, unknown> = {}) {
    const a = await startNode(f, 'alpha', {
      db,
      leaseTable: t.lease,
      dedup: { table: t.dedup },
      feeds: { table: t.feed },
      handlers: handlers as never,
      ...extra,
    });
    await until(() => a.node.status === 'active', 20_000, 'alpha active');
    await a.store.transaction((tx) => tx.execute(`CREATE TABLE IF NOT EXISTS ${t.hits} (k VARCHAR(255) NOT NULL)`));
    return a;
  }

  async function count(db: string, sql: string, params: unknown[]): Promise<number> {
    const { default: pgm } = await import('pg');
    const client = new pgm.Client({ connectionString: db });
    await client.connect();
    try {
      return Number((await client.query(sql, params)).rows[0].c);
    } finally {
      await client.end();
    }
  }

  function expectNodeHeaders(answer: RawAnswer, token: number | undefined): void {
    expect(answer.headers['x-hotcold-node']).toBe('alpha');
    expect(answer.headers['x-hotcold-epoch']).toBe(String(token));
  }

  it('a frozen database: the call in flight and a waiting long-poll are answered 503 NOT_EXECUTED while it is still frozen', async () => {
    f = fixture();
    const t = tables();
    let started = false;
    const a = await node(
      pg.url,
      t,
      {
        slow: async (_p: unknown, ctx: HandlerContext) => {
          await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, ['slow']);
          started = true;
          await sleep(400);
          await ctx.tx.query('SELECT 1 AS one');
          return 'committed';
        },
      },
      { updateInterval: 300, waitInterval: 1500 },
    );
    const token = a.lease.current?.token;
    const poll = rawRpc(a.url, 'hotcold.feed', { feed: 'quiet', after: 0, waitMs: 20_000 }, {}, 2);
    const call = rawRpc(a.url, 'slow', {}, { 'idempotency-key': 'frozen-1' });
    await until(() => started, 10_000, 'handler started');
    await sleep(100);
    const frozenAt = performance.now();
    pg.freeze();
    const FREEZE_MS = 8_000;
    const timeout = sleep(FREEZE_MS).then(() => 'still unanswered' as const);
    const [callAnswer, pollAnswer] = await Promise.all([Promise.race([call, timeout]), Promise.race([poll, timeout])]);
    const answeredAfterMs = performance.now() - frozenAt;
    pg.thaw();
    expect(callAnswer).not.toBe('still unanswered');
    expect(pollAnswer).not.toBe('still unanswered');
    const c = callAnswer as RawAnswer;
    const p = pollAnswer as RawAnswer;
    console.log(`frozen database: call and long-poll answered ${Math.round(answeredAfterMs)} ms after the freeze (W = 1500 ms)`);
    expect(c.status).toBe(503);
    expect(c.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    expectNodeHeaders(c, token);
    expect(p.status).toBe(503);
    expect(p.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    expectNodeHeaders(p, token);
    // It truly did not commit: no row, no idempotency record.
    await until(async () => (await count(pg.url, `SELECT COUNT(*) AS c FROM pg_stat_activity WHERE state = 'idle in transaction'`, [])) === 0, 20_000, 'rollback');
    expect(await count(pg.url, `SELECT COUNT(*) AS c FROM ${t.hits} WHERE k = $1`, ['slow'])).toBe(0);
    expect(await count(pg.url, `SELECT COUNT(*) AS c FROM ${t.dedup} WHERE idem_key = $1`, ['frozen-1'])).toBe(0);
  }, 60_000);

  it('COMMIT sent and never acknowledged: answered 500 COMMIT_UNKNOWN (with node headers) as soon as the lease is lost', async () => {
    f = fixture();
    const t = tables();
    proxy = await startPausingProxy(pg.port);
    const viaProxy = `postgres://postgres@127.0.0.1:${proxy.port}/postgres`;
    const a = await node(
      viaProxy,
      t,
      {
        write: async (_p: unknown, ctx: HandlerContext) => {
          await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, ['write']);
          return 'done';
        },
      },
      { updateInterval: 300, waitInterval: 1500 },
    );
    const token = a.lease.current?.token;
    // The database "freezes" exactly when the node sends COMMIT: the commit's fate is unknown.
    const frozen = proxy.pauseOnClientBytes(Buffer.from('COMMIT\0'));
    const call = rawRpc(a.url, 'write', {}, { 'idempotency-key': 'commit-1' });
    await frozen;
    const timeout = sleep(8_000).then(() => 'still unanswered' as const);
    const answer = await Promise.race([call, timeout]);
    proxy.resume();
    expect(answer).not.toBe('still unanswered');
    const c = answer as RawAnswer;
    expect(c.status).toBe(500);
    expect(c.body).toMatchObject({ error: 'COMMIT_UNKNOWN', node: 'alpha' });
    expectNodeHeaders(c, token);
  }, 60_000);

  it('a database restart under load: no call is answered as a JSON-RPC error; every NOT_EXECUTED left no row and no record', async () => {
    f = fixture();
    const t = tables();
    const a = await node(
      pg.url,
      t,
      {
        transfer: async (_p: unknown, ctx: HandlerContext) => {
          await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, [ctx.idempotencyKey]);
          await sleep(150);
          await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, [ctx.idempotencyKey]);
          return 'ok';
        },
      },
      { updateInterval: 300, waitInterval: 6000 },
    );
    const answers: Array<{ key: string; answer: RawAnswer }> = [];
    let running = true;
    let n = 0;
    const loops = Array.from({ length: 8 }, async () => {
      while (running) {
        const key = `k-${n++}`;
        answers.push({ key, answer: await rawRpc(a.url, 'transfer', {}, { 'idempotency-key': key }) });
      }
    });
    await sleep(700);
    await pg.restart();
    await sleep(1500);
    running = false;
    await Promise.all(loops);
    const kinds = new Map<string, number>();
    for (const { answer } of answers) {
      const kind = answer.body?.error?.code !== undefined ? `rpc ${answer.body.error.code}` : `${answer.status} ${answer.body?.error ?? 'result'}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    console.log('database restart under load:', Object.fromEntries(kinds));
    // Never the application's error for the database's failure.
    expect(answers.filter(({ answer }) => answer.body?.error?.code !== undefined)).toEqual([]);
    const notExecuted = answers.filter(({ answer }) => answer.status === 503);
    expect(notExecuted.length).toBeGreaterThan(0);
    for (const { answer } of answers) {
      if (answer.status === 200) expect(answer.body.result).toBe('ok');
      else {
        expect([500, 503]).toContain(answer.status);
        expect(answer.headers['x-hotcold-node']).toBe('alpha');
        expect(answer.body.error).toEqual(answer.status === 500 ? 'COMMIT_UNKNOWN' : expect.stringMatching(/^(NOT_EXECUTED|NOT_ACTIVE)$/));
      }
    }
    for (const { key, answer } of notExecuted) {
      expect({ key, rows: await count(pg.url, `SELECT COUNT(*) AS c FROM ${t.hits} WHERE k = $1`, [key]) }).toEqual({ key, rows: 0 });
      expect({ key, records: await count(pg.url, `SELECT COUNT(*) AS c FROM ${t.dedup} WHERE idem_key = $1`, [key]) }).toEqual({ key, records: 0 });
      void answer;
    }
  }, 90_000);
});
