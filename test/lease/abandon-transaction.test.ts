/**
 * `store.transaction(fn, { signal })`: the caller gives up on a transaction without waiting on the
 * database. The promise rejects at once with an error that says what may be concluded (nothing
 * committed before COMMIT was sent; unknown after), a statement `fn` issues afterwards is not run,
 * and nothing `fn` wrote is committed. PostgreSQL through a proxy that holds the traffic (a server
 * that stops answering at a chosen byte), on a PRIVATE server.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { CommitAbandonedError, TransactionAbandonedError, TransientStoreError, postgresStore, sqliteStore } from '../../src/lease/index.js';
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { startPausingProxy } from '../node/pausing-proxy.js';
import { uniqueTable, waitFor } from './helpers.js';

const never = new Promise<never>(() => undefined);

describe('SQLite: an abandoned transaction rolls back in-process at once', () => {
  it('rejects with TransactionAbandonedError (committed false); a late statement is not run; nothing committed; the next transaction runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotcold-abandon-'));
    const store = sqliteStore(join(dir, 'app.db'));
    try {
      const table = uniqueTable('abandon');
      await store.transaction((tx) => tx.execute(`CREATE TABLE ${table} (k TEXT NOT NULL)`));
      const controller = new AbortController();
      let resume!: () => void;
      const paused = new Promise<void>((r) => (resume = r));
      let late: Promise<unknown> | undefined;
      const running = store.transaction(
        async (tx) => {
          await tx.execute(`INSERT INTO ${table} (k) VALUES (?)`, ['early']);
          await paused;
          // A callback that ignores the abort: its statement must not autocommit.
          late = tx.execute(`INSERT INTO ${table} (k) VALUES (?)`, ['late']);
          await late;
          return 'done';
        },
        { signal: controller.signal },
      );
      await new Promise((r) => setTimeout(r, 20));
      controller.abort();
      const error = await running.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionAbandonedError);
      expect(error).toBeInstanceOf(TransientStoreError);
      expect((error as TransactionAbandonedError).committed).toBe(false);
      resume();
      await waitFor(() => late !== undefined, 5_000);
      await expect(late).rejects.toThrow(/abandoned/);
      expect(await store.transaction((tx) => tx.query(`SELECT COUNT(*) AS c FROM ${table}`))).toEqual([{ c: 0 }]);
      // Aborted before it began: fn never runs.
      let ran = false;
      await expect(store.transaction(async () => (ran = true), { signal: AbortSignal.abort() })).rejects.toBeInstanceOf(TransactionAbandonedError);
      expect(ran).toBe(false);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe.runIf(privatePostgresAvailable())('PostgreSQL: an abandoned transaction is discarded, not awaited', () => {
  let server: PrivatePostgres;
  beforeAll(async () => {
    server = await startPrivatePostgres();
  }, 120_000);
  afterAll(async () => {
    await server?.stop();
  });

  async function setup() {
    const proxy = await startPausingProxy(server.port);
    const pool = new pg.Pool({ connectionString: `postgres://postgres@127.0.0.1:${proxy.port}/postgres`, max: 4 });
    pool.on('error', () => undefined);
    // Which clients the transactions took, and which the pool dropped (out of the pool, socket closed).
    const acquired: pg.PoolClient[] = [];
    const removed = new Set<pg.Client>();
    pool.on('acquire', (client) => acquired.push(client));
    pool.on('remove', (client) => removed.add(client));
    const store = postgresStore(pool, { table: uniqueTable() });
    const table = uniqueTable('abandon');
    await store.transaction((tx) => tx.execute(`CREATE TABLE ${table} (k TEXT NOT NULL)`));
    const count = async (): Promise<number> => {
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      try {
        return Number((await c.query(`SELECT COUNT(*) AS c FROM ${table}`)).rows[0].c);
      } finally {
        await c.end();
      }
    };
    acquired.length = 0;
    return {
      proxy,
      pool,
      acquired,
      removed,
      store,
      table,
      count,
      async close() {
        proxy.resume();
        await store.close();
        await pool.end();
        await proxy.close();
      },
    };
  }

  it('the server stops answering mid-transaction: TransactionAbandonedError at the abort, the client leaves the pool, nothing committed', async () => {
    const s = await setup();
    try {
      const controller = new AbortController();
      let inserted = false;
      const running = s.store.transaction(
        async (tx) => {
          await tx.execute(`INSERT INTO ${s.table} (k) VALUES (?)`, ['x']);
          inserted = true;
          s.proxy.pause();
          await tx.query('SELECT 1 AS one'); // never answered while paused
          return 'done';
        },
        { signal: controller.signal },
      );
      await waitFor(() => inserted, 10_000);
      await new Promise((r) => setTimeout(r, 50));
      const [client] = s.acquired;
      expect(client).toBeDefined();
      controller.abort();
      const error = await running.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionAbandonedError);
      // Out of the pool, its socket closed, while the server is still silent.
      await waitFor(() => s.removed.has(client as pg.PoolClient), 5_000);
      s.proxy.resume();
      await waitFor(async () => (await s.count()) === 0, 10_000);
    } finally {
      await s.close();
    }
  }, 60_000);

  it('COMMIT sent and not answered: CommitAbandonedError (outcome unknown) at the abort, not a certificate of "not committed"', async () => {
    const s = await setup();
    try {
      const controller = new AbortController();
      const commitSent = s.proxy.pauseOnClientBytes(Buffer.from('COMMIT\0'));
      const running = s.store.transaction((tx) => tx.execute(`INSERT INTO ${s.table} (k) VALUES (?)`, ['y']), { signal: controller.signal });
      await Promise.race([commitSent, never]);
      const [client] = s.acquired;
      controller.abort();
      const error = await running.catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CommitAbandonedError);
      expect((error as CommitAbandonedError).committed).toBeUndefined();
      expect(error).not.toBeInstanceOf(TransientStoreError);
      await waitFor(() => s.removed.has(client as pg.PoolClient), 5_000);
    } finally {
      await s.close();
    }
  }, 60_000);
});
