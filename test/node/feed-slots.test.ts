import { afterEach, describe, expect, it } from 'vitest';
import { createLease, mysqlStore, postgresStore, sqliteStore, type LeaseEvent, type LeaseStore } from 'hotcold/lease';
import { createNode, type HandlerContext, type NodeEvent } from 'hotcold/node';
import { startLatencyProxy, type LatencyProxy } from '../support/latency-proxy.js';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { rawPost } from './raw-http.js';
import { fixture, until, uniq, type Fixture } from './support.js';

/**
 * The node's background and long-lived work shares its transaction slots (docs/node.md
 * "Transaction slots"). Each long-poll's read is a transaction; without a bound, 800 waiting
 * long-polls queued 800 transactions for the store's connections: on PostgreSQL the lease's
 * renewal waited in the pool's queue behind them and the hot node lost its lease under nothing
 * but readers (calls answered NOT_ACTIVE); the same on MariaDB. The idempotency cleanup ran outside the slots too: on
 * PostgreSQL it ran beside the calls on a connection of its own, on SQLite it queued for the one
 * connection behind a call and failed busy. (The SQLite long-poll case passes without the fix on
 * this machine: there the renewal has a connection of its own; it is kept as a regression test.)
 */
const POLLS = 800;

interface Db {
  name: string;
  /** A store for the node (fresh per test); `extra` are things to close afterwards. */
  open(f: Fixture, table: string): Promise<{ store: LeaseStore; close?: () => Promise<void> }>;
}

const sqlite: Db = {
  name: 'SQLite',
  // A call may wait this long for the one connection: far above one feed read.
  open: async (f, table) => ({ store: sqliteStore(f.dbPath, { table, busyTimeoutMs: 250 }) }),
};

const postgres: Db = {
  name: 'PostgreSQL',
  // The database 2 ms away (each way): a transaction takes a few round trips, as on a network.
  open: async (_f, table) => {
    const proxy: LatencyProxy = await startLatencyProxy(Number(new URL(PG_URL).port || 5432), 2);
    const url = new URL(PG_URL);
    url.port = String(proxy.port);
    return { store: postgresStore(url.toString(), { table }), close: () => proxy.close() };
  },
};

const mariadb: Db = {
  name: 'MariaDB',
  open: async (_f, table) => {
    const proxy: LatencyProxy = await startLatencyProxy(Number(new URL(MYSQL_URL).port || 3306), 2);
    const url = new URL(MYSQL_URL);
    url.port = String(proxy.port);
    return { store: mysqlStore(url.toString(), { table }), close: () => proxy.close() };
  },
};

function suite(db: Db): void {
  let f: Fixture;
  const closers: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await f?.cleanup();
    for (const close of closers.splice(0)) await close();
  });

  async function hotNode(options: { maxConcurrentTransactions?: number; idleInTransactionTimeoutMs?: false; cleanupIntervalMs?: number; ttlMs?: number; handlers: Record<string, (p: never, ctx: HandlerContext) => unknown> }) {
    f = fixture();
    const id = uniq();
    const { store, close } = await db.open(f, `l_${id}`);
    if (close) closers.push(close);
    f.stores.push(store);
    const lease = createLease({ store, machineName: 'hot', updateInterval: 200, waitInterval: 1500, mode: 'warm' });
    f.leases.push(lease);
    const node = createNode({
      lease,
      port: 0,
      handlers: options.handlers,
      dedup: { table: `d_${id}`, ...(options.ttlMs === undefined ? {} : { ttlMs: options.ttlMs }), ...(options.cleanupIntervalMs === undefined ? {} : { cleanupIntervalMs: options.cleanupIntervalMs }) },
      // Every waiting long-poll re-reads the table this often: a steady stream of transactions.
      feeds: { table: `f_${id}`, pollIntervalMs: 5, maxWaitMs: 60_000 },
      ...(options.maxConcurrentTransactions === undefined ? {} : { maxConcurrentTransactions: options.maxConcurrentTransactions }),
      ...(options.idleInTransactionTimeoutMs === undefined ? {} : { idleInTransactionTimeoutMs: options.idleInTransactionTimeoutMs }),
    });
    f.nodes.push(node);
    const { url } = await node.start();
    await until(() => node.status === 'active', 30_000, 'active');
    return { node, lease, url, store, dedupTable: `d_${id}` };
  }

  it(`${POLLS} concurrent long-polls: the node keeps its lease and still executes calls`, async () => {
    const { url, node, lease } = await hotNode({ handlers: { ping: () => 'pong' } });
    const losses: LeaseEvent[] = [];
    const sub = lease.events$.subscribe((e) => {
      if (e.type === 'lost') losses.push(e);
    });
    const token = lease.current?.token;
    const polls = Array.from({ length: POLLS }, (_, i) =>
      // Settled either way (a failed test must not leave rejections behind): asserted below.
      rawPost(url, '/rpc', { jsonrpc: '2.0', id: i, method: 'hotcold.feed', params: { feed: 'quiet', after: 0, waitMs: 6000 } }).catch((error: unknown) => error),
    );
    // Calls while the long-polls wait: every one executed, under the same tenure.
    let pings = 0;
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      const answer = await rawPost(url, '/rpc', { jsonrpc: '2.0', id: 'p', method: 'ping' });
      expect(answer.body, JSON.stringify(answer.body)).toMatchObject({ result: 'pong' });
      pings += 1;
      await new Promise((r) => setTimeout(r, 100));
    }
    const answers = await Promise.all(polls);
    sub.unsubscribe();
    expect(losses).toEqual([]);
    expect(node.status).toBe('active');
    expect(lease.current?.token).toBe(token);
    expect(pings).toBeGreaterThan(0);
    // The long-polls themselves were served: empty (nothing was appended), not refused.
    for (const answer of answers) expect(answer).toMatchObject({ status: 200, body: { result: { items: [], last: 0 } } });
  }, 180_000);

  it('the idempotency cleanup takes a transaction slot: it waits while a call holds the only one', async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let entered!: () => void;
    const inside = new Promise<void>((r) => (entered = r));
    const { url, node, store, dedupTable } = await hotNode({
      maxConcurrentTransactions: 1,
      // The call below holds its slot, idle, for as long as the test says.
      idleInTransactionTimeoutMs: false,
      cleanupIntervalMs: 20,
      ttlMs: 1,
      handlers: {
        hold: async () => {
          entered();
          await released;
          return 'done';
        },
      },
    });
    const events: NodeEvent[] = [];
    node.events$.subscribe((e) => {
      if (e.type === 'cleanup' || e.type === 'cleanup-failed') events.push(e);
    });
    const held = rawPost(url, '/rpc', { jsonrpc: '2.0', id: 1, method: 'hold' });
    await inside;
    // An expired record, written behind the node's back. PostgreSQL: while the call holds the
    // only slot (a cleanup past the slots deletes it meanwhile). SQLite: after it, as the call
    // holds the database's write lock (a cleanup past the slots queues for it and fails busy).
    const expired = (): Promise<unknown> =>
      store.transaction((tx) =>
        tx.execute(`INSERT INTO ${dedupTable} (idem_key, caller, method, fingerprint, token, created_at) VALUES (?, ?, ?, ?, ?, ?)`, ['old', 'c', 'm', 'f', 1, 0]),
      );
    if (store.dialect !== 'sqlite') await expired();
    // Many cleanup intervals pass: none may run (or fail) while the slot is held.
    await new Promise((r) => setTimeout(r, 1000));
    expect(events).toEqual([]);
    if (store.dialect !== 'sqlite') {
      const rows = await store.transaction((tx) => tx.query(`SELECT idem_key FROM ${dedupTable} WHERE idem_key = ?`, ['old']));
      expect(rows).toHaveLength(1);
    }
    release();
    expect((await held).body).toMatchObject({ result: 'done' });
    if (store.dialect === 'sqlite') await expired();
    // The slot is free: the next cleanup runs and deletes the record.
    await until(() => events.some((e) => e.type === 'cleanup'), 30_000, 'cleanup');
    expect(events.filter((e) => e.type === 'cleanup-failed')).toEqual([]);
  }, 120_000);
}

describe('feed long-polls and the cleanup take transaction slots, SQLite', () => suite(sqlite));
describe.runIf(await databaseAvailable('postgres'))('feed long-polls and the cleanup take transaction slots, PostgreSQL', () => suite(postgres));
describe.runIf(await databaseAvailable('mysql'))('feed long-polls and the cleanup take transaction slots, MariaDB', () => suite(mariadb));
