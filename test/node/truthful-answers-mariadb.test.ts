/**
 * A database restart under load on a PRIVATE MariaDB (issue 7 §3): in-flight calls are answered
 * "not executed" (or "commit unknown"), never as the application's JSON-RPC error. Raw node:http.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { privateMariaDbAvailable, startPrivateMariaDb, type PrivateMariaDb } from './private-mariadb.js';
import { rawRpc, type RawAnswer } from './raw-http.js';
import { fixture, startNode, until, uniq, type Fixture } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.runIf(privateMariaDbAvailable())('truthful answers on a private MariaDB', () => {
  let db: PrivateMariaDb;
  let f: Fixture;
  beforeAll(async () => {
    db = await startPrivateMariaDb();
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });
  afterEach(async () => {
    await f?.cleanup();
  });

  it('a database restart under load: no call is answered as a JSON-RPC error; every 503 left no row and no record', async () => {
    f = fixture();
    const id = uniq();
    const t = { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}`, hits: `h_${id}` };
    const a = await startNode(f, 'alpha', {
      db: db.url,
      leaseTable: t.lease,
      dedup: { table: t.dedup },
      feeds: { table: t.feed },
      updateInterval: 300,
      waitInterval: 8000,
      handlers: {
        transfer: async (_p: unknown, ctx: HandlerContext) => {
          await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, [ctx.idempotencyKey]);
          await sleep(150);
          await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, [ctx.idempotencyKey]);
          return 'ok';
        },
      },
    });
    await until(() => a.node.status === 'active', 20_000, 'alpha active');
    await a.store.transaction((tx) => tx.execute(`CREATE TABLE IF NOT EXISTS ${t.hits} (k VARCHAR(255) NOT NULL)`));
    const answers: Array<{ key: string; answer: RawAnswer }> = [];
    let running = true;
    let n = 0;
    const loops = Array.from({ length: 6 }, async () => {
      while (running) {
        const key = `k-${n++}`;
        answers.push({ key, answer: await rawRpc(a.url, 'transfer', {}, { 'idempotency-key': key }) });
      }
    });
    await sleep(700);
    await db.restart();
    await sleep(1500);
    running = false;
    await Promise.all(loops);
    const kinds = new Map<string, number>();
    for (const { answer } of answers) {
      const kind = answer.body?.error?.code !== undefined ? `rpc ${answer.body.error.code}` : `${answer.status} ${answer.body?.error ?? 'result'}`;
      kinds.set(kind, (kinds.get(kind) ?? 0) + 1);
    }
    console.log('MariaDB restart under load:', Object.fromEntries(kinds));
    expect(answers.filter(({ answer }) => answer.body?.error?.code !== undefined)).toEqual([]);
    const refused = answers.filter(({ answer }) => answer.status === 503);
    expect(refused.length).toBeGreaterThan(0);
    for (const { answer } of answers) {
      if (answer.status === 200) expect(answer.body.result).toBe('ok');
      else {
        expect([500, 503]).toContain(answer.status);
        expect(answer.headers['x-hotcold-node']).toBe('alpha');
      }
    }
    // Check through the node's own store, after the restart.
    await until(() => a.node.inFlight === 0, 20_000, 'transactions ended');
    for (const { key } of refused) {
      const rows = await a.store.transaction((tx) => tx.query(`SELECT COUNT(*) AS c FROM ${t.hits} WHERE k = ?`, [key]));
      const records = await a.store.transaction((tx) => tx.query(`SELECT COUNT(*) AS c FROM ${t.dedup} WHERE idem_key = ?`, [key]));
      expect({ key, rows: Number(rows[0]?.c), records: Number(records[0]?.c) }).toEqual({ key, rows: 0, records: 0 });
    }
  }, 120_000);
});
