/**
 * Idempotency keys and feed names are compared byte for byte on every database. MariaDB/MySQL
 * columns take the database's collation unless told otherwise, and the defaults
 * (`utf8mb4_general_ci`, `latin1_swedish_ci`) compare case- and accent-insensitively: the keys
 * `Pay-AbC` and `pay-abc` — two orders whose ids differ in case, paying the same amount to the same
 * account — were one key, and the second payment was answered `200` with the FIRST one's stored
 * result without running. Feeds `Orders` and `orders` shared one sequence and one item list.
 * `utf8mb4_bin` fixed case but is PAD SPACE: feeds `orders` and `orders ` were still one feed, and
 * the leases `ledger` and `ledger ` one row (two pairs of nodes taking turns on one lease).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { StoreSchemaError, storeFromUrl } from 'hotcold/lease';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { rawRpc } from './raw-http.js';
import { fixture, startNode, until, uniq, type Fixture } from './support.js';

const withPostgres = await databaseAvailable('postgres');
const withMariadb = await databaseAvailable('mysql');

let f: Fixture;
afterEach(async () => {
  await f?.cleanup();
});

function suite(db: string | undefined): void {
  const dropped: string[] = [];
  afterAll(async () => {
    if (db === undefined || dropped.length === 0) return;
    const admin = storeFromUrl(db, { table: `l_${uniq()}` });
    try {
      for (const table of dropped) await admin.run?.(`DROP TABLE IF EXISTS ${table}`);
    } finally {
      await admin.close();
    }
  });

  it('keys that differ only in case are two calls, each run once; feeds that differ only in case are two feeds', async () => {
    f = fixture();
    const id = uniq();
    const t = { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}` };
    dropped.push(t.lease, t.dedup, t.feed, `${t.feed}_seq`);
    const ran: string[] = [];
    const a = await startNode(f, 'alpha', {
      db,
      leaseTable: t.lease,
      dedup: { table: t.dedup },
      feeds: { table: t.feed },
      handlers: {
        pay: async (params: { feed: string }, ctx: HandlerContext) => {
          ran.push(ctx.idempotencyKey ?? '-');
          await ctx.appendFeed(params.feed, { key: ctx.idempotencyKey });
          return { paid: ctx.idempotencyKey };
        },
      },
    });
    await until(() => a.node.status === 'active', 15_000, 'alpha active');

    const upper = await rawRpc(a.url, 'pay', { feed: 'Orders' }, { 'idempotency-key': 'Pay-AbC' });
    const lower = await rawRpc(a.url, 'pay', { feed: 'Orders' }, { 'idempotency-key': 'pay-abc' });
    expect(upper.body).toMatchObject({ result: { paid: 'Pay-AbC' } });
    expect(lower.body).toMatchObject({ result: { paid: 'pay-abc' } });
    expect(ran).toEqual(['Pay-AbC', 'pay-abc']);
    // Each key's repeat is its own stored result.
    expect((await rawRpc(a.url, 'pay', { feed: 'Orders' }, { 'idempotency-key': 'pay-abc' })).body).toMatchObject({ result: { paid: 'pay-abc' } });
    expect(ran).toHaveLength(2);

    await rawRpc(a.url, 'pay', { feed: 'orders' }, { 'idempotency-key': 'other' });
    const read = async (feed: string) => (await rawRpc(a.url, 'hotcold.feed', { feed, after: 0 })).body as { result: { items: Array<{ seq: number; data: unknown }> } };
    expect((await read('Orders')).result.items).toEqual([
      { seq: 1, data: { key: 'Pay-AbC' } },
      { seq: 2, data: { key: 'pay-abc' } },
    ]);
    expect((await read('orders')).result.items).toEqual([{ seq: 1, data: { key: 'other' } }]);

    // Trailing spaces are part of the name (PAD SPACE collations ignore them).
    await rawRpc(a.url, 'pay', { feed: 'orders ' }, { 'idempotency-key': 'spaced' });
    expect((await read('orders ')).result.items).toEqual([{ seq: 1, data: { key: 'spaced' } }]);
    expect((await read('orders')).result.items).toEqual([{ seq: 1, data: { key: 'other' } }]);
  }, 60_000);

  it('lease names that differ only in trailing spaces are two leases', async () => {
    f = fixture();
    const table = `l_${uniq()}`;
    dropped.push(table);
    const store = storeFromUrl(db ?? `sqlite:${f.dir}/trailing.db`, { table });
    try {
      await store.init();
      await store.run?.(`INSERT INTO ${table} (name, holder) VALUES (?, ?)`, ['ledger', 'pair-a']);
      await store.run?.(`INSERT INTO ${table} (name, holder) VALUES (?, ?)`, ['ledger ', 'pair-b']);
      expect((await store.read('ledger'))?.holder).toBe('pair-a');
      expect((await store.read('ledger '))?.holder).toBe('pair-b');
    } finally {
      await store.close();
    }
  }, 60_000);
}

describe('exact keys on SQLite', () => suite(undefined));
describe.runIf(withPostgres)('exact keys on PostgreSQL', () => suite(PG_URL));
describe.runIf(withMariadb)('exact keys on MariaDB', () => {
  suite(MYSQL_URL);

  it('an existing idempotency table whose key column compares case-insensitively is refused at start, naming the column and the ALTER', async () => {
    f = fixture();
    const id = uniq();
    const dedup = `d_${id}`;
    const admin = storeFromUrl(MYSQL_URL, { table: `l_${id}` });
    try {
      await admin.run?.(
        `CREATE TABLE ${dedup} (idem_key VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, caller VARCHAR(255) NOT NULL, method VARCHAR(255) NOT NULL, fingerprint VARCHAR(255) NOT NULL, result LONGTEXT, token BIGINT NOT NULL, created_at BIGINT NOT NULL)`,
      );
      const started = startNode(f, 'alpha', { db: MYSQL_URL, leaseTable: `l_${id}`, dedup: { table: dedup }, feeds: false, handlers: {} });
      await expect(started).rejects.toBeInstanceOf(StoreSchemaError);
      await expect(started).rejects.toThrow(/column idem_key \(collation utf8mb4_general_ci\).*COLLATE utf8mb4_nopad_bin/);
    } finally {
      await admin.run?.(`DROP TABLE IF EXISTS ${dedup}`);
      await admin.run?.(`DROP TABLE IF EXISTS l_${id}`);
      await admin.close();
    }
  }, 60_000);
});
