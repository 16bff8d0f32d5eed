/**
 * Issue 7.1, the kind "a takeover committed by an earlier, abandoned attempt": a standby's
 * takeover waits on a row lock (a frozen old holder inside its fenced transaction holds one),
 * its statement times out on the client, the standby tries again, and the FIRST attempt commits
 * when the lock goes. On PostgreSQL that attempt stamped `renewed_at` when it first scanned the
 * row, before it waited; the engine must not date its deadline from a later attempt's send time.
 *
 * The safety property checked is an inequality, not a timing: the deadline the holder adopts at
 * acquisition must not pass the expiry the database computes from the stamp of the version that
 * made it holder (recorded by a trigger; both clocks are this host's, compared via Date.now()).
 * Real databases, a real lock held by a second session; nothing mocked.
 */
import mysql from 'mysql2/promise';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { createLease, mysqlStore, postgresStore, type LeaseStore, type SqlLeaseStore } from '../../src/lease/index.js';
import { nowMs } from '../../src/lease/sql.js';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const hasPg = await databaseAvailable('postgres');
const hasMysql = await databaseAvailable('mysql');

interface Version {
  holder: string | null;
  token: number;
  renewedAt: number;
}

interface Locker {
  /** Opens a transaction holding the shared row lock a fenced transaction holds (assertHeld). */
  lock(table: string, name: string): Promise<() => Promise<void>>;
  exec(sql: string, params?: unknown[]): Promise<void>;
  rows(sql: string): Promise<Version[]>;
  close(): Promise<void>;
}

async function pgLocker(): Promise<Locker> {
  const admin = new pg.Client(PG_URL);
  await admin.connect();
  return {
    async lock(table, name) {
      const client = new pg.Client(PG_URL);
      await client.connect();
      await client.query('BEGIN');
      await client.query(`SELECT * FROM ${table} WHERE name = $1 FOR KEY SHARE`, [name]);
      return async () => {
        await client.query('COMMIT');
        await client.end();
      };
    },
    async exec(sql, params = []) {
      let i = 0;
      await admin.query(sql.replace(/\?/g, () => `$${++i}`), params);
    },
    async rows(sql) {
      const { rows } = await admin.query<{ holder: string | null; token: string; renewed_at: number }>(sql);
      return rows.map((r) => ({ holder: r.holder, token: Number(r.token), renewedAt: Number(r.renewed_at) }));
    },
    close: () => admin.end(),
  };
}

async function mysqlLocker(): Promise<Locker> {
  const admin = await mysql.createConnection({ uri: MYSQL_URL });
  return {
    async lock(table, name) {
      const conn = await mysql.createConnection({ uri: MYSQL_URL });
      await conn.query('BEGIN');
      await conn.query(`SELECT * FROM ${table} WHERE name = ? LOCK IN SHARE MODE`, [name]);
      return async () => {
        await conn.query('COMMIT');
        await conn.end();
      };
    },
    async exec(sql, params = []) {
      await admin.query(sql, params);
    },
    async rows(sql) {
      const [rows] = await admin.query(sql);
      return (rows as { holder: string | null; token: number; renewed_at: number }[]).map((r) => ({
        holder: r.holder,
        token: Number(r.token),
        renewedAt: Number(r.renewed_at),
      }));
    },
    close: () => admin.end(),
  };
}

const cases = [
  {
    dialect: 'postgres',
    available: hasPg,
    store: (t: string) => postgresStore(PG_URL, { table: t }),
    locker: pgLocker,
    async history(l: Locker, t: string) {
      await l.exec(`CREATE TABLE ${t}_h (holder TEXT, token BIGINT, renewed_at DOUBLE PRECISION)`);
      await l.exec(
        `CREATE FUNCTION ${t}_f() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${t}_h VALUES (NEW.holder, NEW.token, NEW.renewed_at); RETURN NEW; END $$`,
      );
      await l.exec(`CREATE TRIGGER ${t}_t AFTER UPDATE ON ${t} FOR EACH ROW EXECUTE FUNCTION ${t}_f()`);
    },
    versions: (l: Locker, t: string) => l.rows(`SELECT holder, token, renewed_at FROM ${t}_h`),
    async drop(l: Locker, t: string) {
      await l.exec(`DROP TABLE IF EXISTS ${t}, ${t}_h`);
      await l.exec(`DROP FUNCTION IF EXISTS ${t}_f()`);
    },
  },
  {
    dialect: 'mysql',
    available: hasMysql,
    store: (t: string) => mysqlStore(MYSQL_URL, { table: t }),
    locker: mysqlLocker,
    async history(l: Locker, t: string) {
      await l.exec(`CREATE TABLE ${t}_h (holder VARCHAR(255), token BIGINT, renewed_at DOUBLE)`);
      await l.exec(`CREATE TRIGGER ${t}_t AFTER UPDATE ON ${t} FOR EACH ROW INSERT INTO ${t}_h VALUES (NEW.holder, NEW.token, NEW.renewed_at)`);
    },
    versions: (l: Locker, t: string) => l.rows(`SELECT holder, token, renewed_at FROM ${t}_h`),
    async drop(l: Locker, t: string) {
      await l.exec(`DROP TABLE IF EXISTS ${t}, ${t}_h`);
    },
  },
] as const;

/**
 * The store as a store without the autocommit fast path (LeaseStore.run is optional): every lease
 * statement then runs in transaction(), bounded by the engine's timer only, so an attempt the
 * engine gave up on stays waiting in the database until the lock goes, and then commits. Through
 * run() the server ends it at the same bound as the client, and whether it is still waiting when
 * the lock goes is a race of a few milliseconds that a loaded machine decides either way: the
 * scenario was then not exercised at all (the takeover came from a later attempt's own answer).
 */
function withoutFastPath(store: SqlLeaseStore): LeaseStore {
  return {
    dialect: store.dialect,
    table: store.table,
    init: () => store.init(),
    ddl: () => store.ddl(),
    read: (name) => store.read(name),
    transaction: (fn, options) => store.transaction(fn, options),
    assertHeld: (tx, name, token, holder) => store.assertHeld(tx, name, token, holder),
    close: () => store.close(),
  };
}

for (const c of cases) {
  describe.runIf(c.available)(`${c.dialect}: a takeover that waited on a row lock`, () => {
    it('never leaves the new holder a longer deadline than the database gives it', async () => {
      const table = uniqueTable('lease_tbl');
      const sqlStore: SqlLeaseStore = c.store(table);
      const locker = await c.locker();
      await sqlStore.init();
      await c.history(locker, table);
      // The lease of a holder that went silent inside a fenced transaction, already expired by the
      // database clock: the transaction is still open (frozen) and holds the shared row lock that
      // assertHeld() takes. Both are in place before the standby starts, so every takeover attempt
      // waits on the lock, however late the standby's start-up comes (no race with an expiry).
      await locker.exec(
        `INSERT INTO ${table} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, 'ghost#0', 1, 1, ${nowMs(c.dialect)} - 60000, 1000)`,
        ['tbl'],
      );
      const release = await locker.lock(table, 'tbl');
      let unlocked: Promise<void> | undefined;
      const unlock = (): Promise<void> => (unlocked ??= release());
      // Renewals far apart, statements cut short: several takeover attempts, no renewal before
      // the check below.
      const lease = createLease({
        store: withoutFastPath(sqlStore),
        name: 'tbl',
        machineName: 'standby',
        updateInterval: 2000,
        waitInterval: 5000,
        statementTimeoutMs: 50,
        pollInterval: 100,
        mode: 'warm',
      });
      let failures = 0;
      /** Epoch ms (this host's clock, as the database's stamps) at which the lock was let go. */
      let unlockedAtEpochMs = Number.NaN;
      /** The holder's deadline at acquisition, as epoch ms on this host's clock. */
      let deadlineEpochMs = Number.NaN;
      const sub = lease.events$.subscribe((e) => {
        // The lock goes once two attempts have timed out on the client (both still waiting in the
        // database): the first commits, its answer long abandoned, and the next read shows the
        // row taken by this holder. Driven by the engine's own events, not by timing.
        if (e.type === 'warning' && /takeover attempt failed/.test(e.message) && ++failures === 2) {
          unlockedAtEpochMs = Date.now();
          void unlock();
        }
        // Synchronously at acquisition, before any renewal could move the deadline.
        if (e.type === 'acquired') deadlineEpochMs = Date.now() + (lease.current?.remainingMs() ?? Number.NaN);
      });
      try {
        const held = await lease.acquire();
        await unlocked;
        expect(failures, 'two attempts abandoned before the takeover').toBeGreaterThanOrEqual(2);
        const versions = await c.versions(locker, table);
        const taken = versions.find((v) => v.token === held.token && v.holder === lease.holderId);
        expect(taken, JSON.stringify(versions)).toBeDefined();
        // The scenario itself: the version that made this engine holder was stamped before the lock
        // went, i.e. by an attempt sent while the row was locked — one the engine had given up on.
        expect(taken?.renewedAt, 'the takeover came from an abandoned attempt').toBeLessThan(unlockedAtEpochMs);
        const expiry = (taken?.renewedAt ?? 0) + 5000;
        // 1 ms: Date.now() is whole milliseconds.
        expect(deadlineEpochMs, `the holder's deadline passes the database's expiry by ${(deadlineEpochMs - expiry).toFixed(1)} ms`).toBeLessThanOrEqual(expiry + 1);
      } finally {
        sub.unsubscribe();
        await unlock().catch(() => undefined);
        await lease.close();
        await c.drop(locker, table).catch(() => undefined);
        await locker.close();
        await sqlStore.close();
      }
    }, 60_000);
  });
}
