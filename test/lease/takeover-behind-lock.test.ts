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
import { createLease, mysqlStore, postgresStore, type SqlLeaseStore } from '../../src/lease/index.js';
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

for (const c of cases) {
  describe.runIf(c.available)(`${c.dialect}: a takeover that waited on a row lock`, () => {
    /** One run of the scenario; asserts the property and returns how many attempts were abandoned. */
    async function once(): Promise<number> {
      const table = uniqueTable('lease_tbl');
      const store: SqlLeaseStore = c.store(table);
      const locker = await c.locker();
      await store.init();
      await c.history(locker, table);
      // A live lease of a holder that is about to go silent (1 s left by the database clock).
      await locker.exec(
        `INSERT INTO ${table} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, 'ghost#0', 1, 1, ${nowMs(c.dialect)}, 1000)`,
        ['tbl'],
      );
      // Renewals far apart, statements cut short: several takeover attempts, no renewal before
      // the check below.
      const lease = createLease({
        store,
        name: 'tbl',
        machineName: 'standby',
        updateInterval: 2000,
        waitInterval: 5000,
        statementTimeoutMs: 50,
        pollInterval: 100,
        mode: 'warm',
      });
      let unlock: (() => Promise<void>) | undefined;
      let unlocked: Promise<void> | undefined;
      let failures = 0;
      /** The holder's deadline at acquisition, as epoch ms on this host's clock. */
      let deadlineEpochMs = Number.NaN;
      const subs = [
        // Once the standby has read the row (its start-up is done), the gone holder's fenced
        // transaction stays open, frozen: it holds the shared row lock assertHeld() takes.
        lease.state$.subscribe((s) => {
          if (s.holder === 'ghost#0' && !unlock) {
            unlock = () => Promise.resolve();
            void locker.lock(table, 'tbl').then((release) => {
              unlock = release;
            });
          }
        }),
        // The lock goes right after the second attempt timed out on the client (the first is still
        // waiting in the database): the first commits, the next read shows the row taken by this
        // holder. Driven by the engine's own events, not by timing.
        lease.events$.subscribe((e) => {
          if (e.type === 'warning' && /takeover attempt failed/.test(e.message) && ++failures === 2) unlocked = unlock?.();
          // Synchronously at acquisition, before any renewal could move the deadline.
          if (e.type === 'acquired') deadlineEpochMs = Date.now() + (lease.current?.remainingMs() ?? Number.NaN);
        }),
      ];
      try {
        const held = await lease.acquire();
        await unlocked;
        const versions = await c.versions(locker, table);
        const taken = versions.find((v) => v.token === held.token && v.holder === lease.holderId);
        expect(taken, JSON.stringify(versions)).toBeDefined();
        const expiry = (taken?.renewedAt ?? 0) + 5000;
        // 1 ms: Date.now() is whole milliseconds.
        expect(deadlineEpochMs, `the holder's deadline passes the database's expiry by ${(deadlineEpochMs - expiry).toFixed(1)} ms`).toBeLessThanOrEqual(expiry + 1);
        return failures;
      } finally {
        for (const sub of subs) sub.unsubscribe();
        await unlock?.().catch(() => undefined);
        await lease.close();
        await c.drop(locker, table).catch(() => undefined);
        await locker.close();
        await store.close();
      }
    }

    it('never leaves the new holder a longer deadline than the database gives it', async () => {
      // The property is checked on every run; the scenario (two abandoned attempts, the first
      // committing) needs the lock in place before the old lease expires, which a very busy
      // machine can miss: then the run is repeated.
      const abandoned: number[] = [];
      for (let run = 0; run < 4; run++) {
        abandoned.push(await once());
        if ((abandoned.at(-1) ?? 0) >= 2) return;
      }
      throw new Error(`the scenario never happened: abandoned attempts per run ${abandoned.join(', ')}`);
    }, 120_000);
  });
}
