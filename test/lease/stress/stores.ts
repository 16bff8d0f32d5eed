/**
 * Opening the lease database the stress suite runs on, for a contender (with pools it owns, so
 * it can label or report its connections for the fault driver) and for the driver (an admin
 * connection that creates and drops the run's tables, reads the results, and kills contenders'
 * connections).
 */
// Drivers are loaded on demand: a contender needs one, and process start-up is what the suite
// spends most of its time on when the machine is busy.
import { mysqlStore, postgresStore, sqliteStore, type SqlLeaseStore } from 'hotcold/lease';
import { MYSQL_URL, PG_URL } from '../../support/services.js';
import type { DbWrite } from './checker.js';

export type StoreKind = 'sqlite' | 'postgres' | 'mysql';
export const STORE_KINDS: readonly StoreKind[] = ['sqlite', 'postgres', 'mysql'];

/** The tables of one run: unique names, so parallel runs never meet. */
export interface RunTables {
  lease: string;
  writes: string;
  counter: string;
}

export function runTables(runId: string): RunTables {
  return { lease: `stress_${runId}_lease`, writes: `stress_${runId}_writes`, counter: `stress_${runId}_counter` };
}

export interface OpenedStore {
  store: SqlLeaseStore;
  close(): Promise<void>;
}

/**
 * A lease store on pools this process owns. `appName` labels PostgreSQL sessions (the driver's
 * `pg_terminate_backend` finds them by it); `onConnection` reports each MariaDB thread id (the
 * driver's `KILL` needs them).
 */
export async function openStore(
  kind: StoreKind,
  db: string,
  table: string,
  hooks: { appName?: string; onConnection?: (threadId: number) => void } = {},
): Promise<OpenedStore> {
  switch (kind) {
    case 'sqlite': {
      const store = sqliteStore(db, { table });
      return { store, close: () => store.close() };
    }
    case 'postgres': {
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({ connectionString: db, max: 3, application_name: hooks.appName ?? 'hotcold_stress' });
      // A terminated backend surfaces here for idle clients; the engine sees its own errors.
      pool.on('error', () => undefined);
      const store = postgresStore(pool, { table });
      return {
        store,
        close: async () => {
          await store.close();
          await pool.end();
        },
      };
    }
    case 'mysql': {
      const mysql = await import('mysql2/promise');
      const pool = mysql.createPool({ uri: db, connectionLimit: 3, timezone: 'Z' });
      pool.on('connection', (conn) => {
        const raw = conn as unknown as { threadId?: number; connection?: { threadId?: number } };
        const id = raw.threadId ?? raw.connection?.threadId;
        if (typeof id === 'number') hooks.onConnection?.(id);
      });
      const store = mysqlStore(pool, { table });
      return {
        store,
        close: async () => {
          await store.close();
          await pool.end();
        },
      };
    }
  }
}

/** Where a store kind's database is for this run. */
export function databaseFor(kind: StoreKind, sqlitePath: string): string {
  return kind === 'sqlite' ? sqlitePath : kind === 'postgres' ? PG_URL : MYSQL_URL;
}

/** The driver's own connection: DDL for the run's tables, the results, and connection kills. */
export interface Admin {
  createTables(tables: RunTables): Promise<void>;
  dropTables(tables: RunTables): Promise<void>;
  readWrites(tables: RunTables): Promise<{ writes: DbWrite[]; counter: number }>;
  /** Kills the database connections of one contender process; resolves to how many. */
  killConnections(match: { appName: string; threadIds: readonly number[] }): Promise<number>;
  /**
   * From another session, holds a lock on the lease table for `ms`: `row-share` (what a fenced
   * transaction holds), `row-update` (the lease row locked for update), `other-row` (a write
   * transaction open on a DIFFERENT row of the lease table) or `table` (the whole table locked).
   * Resolves once the lock was released (or could not be taken: the reason is returned).
   */
  holdLock(lease: string, name: string, mode: LockMode, ms: number): Promise<string>;
  /** The locks a process's sessions hold, for the log ('' where the store cannot tell). */
  locksHeldBy(appName: string): Promise<string>;
  close(): Promise<void>;
}

export type LockMode = 'row-share' | 'row-update' | 'other-row' | 'table';
export const LOCK_MODES: readonly LockMode[] = ['row-share', 'row-update', 'other-row', 'table'];

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const otherRow = (name: string): string => `${name}-other`;

const num = (v: unknown): number => Number(v);

function toWrites(rows: Record<string, unknown>[]): DbWrite[] {
  return rows.map((r) => ({ id: num(r.id), token: num(r.token), pid: num(r.pid), seq: num(r.seq), leaseToken: num(r.lease_token) }));
}

export async function openAdmin(kind: StoreKind, db: string): Promise<Admin> {
  switch (kind) {
    case 'sqlite': {
      const { default: Database } = await import('better-sqlite3');
      const conn = new Database(db, { timeout: 5000 });
      conn.pragma('journal_mode = WAL');
      return {
        async createTables(t) {
          conn.exec(`CREATE TABLE ${t.writes} (id INTEGER PRIMARY KEY AUTOINCREMENT, token INTEGER NOT NULL, pid INTEGER NOT NULL, seq INTEGER NOT NULL, lease_token INTEGER NOT NULL)`);
          conn.exec(`CREATE TABLE ${t.counter} (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)`);
          conn.exec(`INSERT INTO ${t.counter} (id, n) VALUES (1, 0)`);
        },
        async dropTables(t) {
          for (const name of [t.writes, t.counter, t.lease]) conn.exec(`DROP TABLE IF EXISTS ${name}`);
        },
        async readWrites(t) {
          const writes = toWrites(conn.prepare(`SELECT id, token, pid, seq, lease_token FROM ${t.writes} ORDER BY id`).all() as Record<string, unknown>[]);
          const row = conn.prepare(`SELECT n FROM ${t.counter} WHERE id = 1`).get() as { n: number } | undefined;
          return { writes, counter: num(row?.n) };
        },
        async killConnections() {
          return 0;
        },
        async holdLock(lease, name, mode, ms) {
          // SQLite locks the whole database for writing: every mode is BEGIN IMMEDIATE plus a write.
          // A short busy timeout: better-sqlite3 waits synchronously, and this is the driver's event loop.
          const locker = new Database(db, { timeout: 200 });
          try {
            locker.exec('BEGIN IMMEDIATE');
            if (mode === 'other-row') {
              locker.prepare(`INSERT OR REPLACE INTO ${lease} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, NULL, 0, 0, 0, 0)`).run(otherRow(name));
            }
            await pause(ms);
            locker.exec('COMMIT');
            return `BEGIN IMMEDIATE (${mode}) for ${ms} ms`;
          } catch (error) {
            return `not taken: ${error instanceof Error ? error.message : String(error)}`;
          } finally {
            locker.close();
          }
        },
        async locksHeldBy() {
          return '';
        },
        async close() {
          conn.close();
        },
      };
    }
    case 'postgres': {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: db, application_name: 'hotcold_stress_driver' });
      client.on('error', () => undefined);
      await client.connect();
      return {
        async createTables(t) {
          await client.query(`CREATE TABLE ${t.writes} (id BIGSERIAL PRIMARY KEY, token BIGINT NOT NULL, pid INTEGER NOT NULL, seq INTEGER NOT NULL, lease_token BIGINT NOT NULL)`);
          await client.query(`CREATE TABLE ${t.counter} (id INTEGER PRIMARY KEY, n BIGINT NOT NULL)`);
          await client.query(`INSERT INTO ${t.counter} (id, n) VALUES (1, 0)`);
        },
        async dropTables(t) {
          for (const name of [t.writes, t.counter, t.lease]) await client.query(`DROP TABLE IF EXISTS ${name}`);
        },
        async readWrites(t) {
          const writes = toWrites((await client.query(`SELECT id, token, pid, seq, lease_token FROM ${t.writes} ORDER BY id`)).rows);
          const counter = num((await client.query(`SELECT n FROM ${t.counter} WHERE id = 1`)).rows[0]?.n);
          return { writes, counter };
        },
        async killConnections({ appName }) {
          const res = await client.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [appName]);
          return res.rows.filter((r: { ok: boolean }) => r.ok).length;
        },
        async holdLock(lease, name, mode, ms) {
          const locker = new pg.Client({ connectionString: db, application_name: 'hotcold_stress_locker' });
          locker.on('error', () => undefined);
          await locker.connect();
          try {
            // Bounded: a lock this session cannot get within a second is not worth waiting for.
            await locker.query("SET lock_timeout = '1s'");
            await locker.query('BEGIN');
            if (mode === 'row-share') await locker.query(`SELECT 1 FROM ${lease} WHERE name = $1 FOR KEY SHARE`, [name]);
            if (mode === 'row-update') await locker.query(`SELECT 1 FROM ${lease} WHERE name = $1 FOR UPDATE`, [name]);
            if (mode === 'other-row') {
              await locker.query(
                `INSERT INTO ${lease} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES ($1, NULL, 0, 0, 0, 0) ON CONFLICT (name) DO UPDATE SET version = ${lease}.version + 1`,
                [otherRow(name)],
              );
            }
            if (mode === 'table') await locker.query(`LOCK TABLE ${lease} IN ACCESS EXCLUSIVE MODE`);
            await pause(ms);
            await locker.query('COMMIT');
            return `${mode} for ${ms} ms`;
          } catch (error) {
            return `not taken: ${error instanceof Error ? error.message : String(error)}`;
          } finally {
            await locker.end().catch(() => undefined);
          }
        },
        async locksHeldBy(appName) {
          const res = await client.query(
            `SELECT l.locktype, l.mode, count(*)::int AS n FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
             WHERE a.application_name = $1 AND l.granted AND l.locktype IN ('advisory', 'relation') GROUP BY 1, 2 ORDER BY 1, 2`,
            [appName],
          );
          return res.rows.map((r: { locktype: string; mode: string; n: number }) => `${r.locktype} ${r.mode} ×${r.n}`).join(', ');
        },
        async close() {
          await client.end();
        },
      };
    }
    case 'mysql': {
      const mysql = await import('mysql2/promise');
      const conn = await mysql.createConnection({ uri: db, timezone: 'Z' });
      conn.on('error', () => undefined);
      return {
        async createTables(t) {
          await conn.query(`CREATE TABLE ${t.writes} (id BIGINT AUTO_INCREMENT PRIMARY KEY, token BIGINT NOT NULL, pid INT NOT NULL, seq INT NOT NULL, lease_token BIGINT NOT NULL) ENGINE=InnoDB`);
          await conn.query(`CREATE TABLE ${t.counter} (id INT PRIMARY KEY, n BIGINT NOT NULL) ENGINE=InnoDB`);
          await conn.query(`INSERT INTO ${t.counter} (id, n) VALUES (1, 0)`);
        },
        async dropTables(t) {
          for (const name of [t.writes, t.counter, t.lease]) await conn.query(`DROP TABLE IF EXISTS ${name}`);
        },
        async readWrites(t) {
          const [rows] = await conn.query(`SELECT id, token, pid, seq, lease_token FROM ${t.writes} ORDER BY id`);
          const [counterRows] = await conn.query(`SELECT n FROM ${t.counter} WHERE id = 1`);
          return { writes: toWrites(rows as Record<string, unknown>[]), counter: num((counterRows as Record<string, unknown>[])[0]?.n) };
        },
        async killConnections({ threadIds }) {
          let killed = 0;
          for (const id of threadIds) {
            try {
              await conn.query(`KILL ${Number(id)}`);
              killed++;
            } catch {
              // Already gone (the pool closed it, or an earlier kill): nothing to do.
            }
          }
          return killed;
        },
        async holdLock(lease, name, mode, ms) {
          const locker = await mysql.createConnection({ uri: db, timezone: 'Z' });
          locker.on('error', () => undefined);
          try {
            await locker.query('SET SESSION innodb_lock_wait_timeout = 1, SESSION lock_wait_timeout = 1');
            if (mode === 'table') {
              await locker.query(`LOCK TABLES ${lease} WRITE`);
              await pause(ms);
              await locker.query('UNLOCK TABLES');
              return `table for ${ms} ms`;
            }
            await locker.query('BEGIN');
            if (mode === 'row-share') await locker.query(`SELECT 1 FROM ${lease} WHERE name = ? LOCK IN SHARE MODE`, [name]);
            if (mode === 'row-update') await locker.query(`SELECT 1 FROM ${lease} WHERE name = ? FOR UPDATE`, [name]);
            if (mode === 'other-row') {
              await locker.query(
                `INSERT INTO ${lease} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, NULL, 0, 0, 0, 0) ON DUPLICATE KEY UPDATE version = version + 1`,
                [otherRow(name)],
              );
            }
            await pause(ms);
            await locker.query('COMMIT');
            return `${mode} for ${ms} ms`;
          } catch (error) {
            return `not taken: ${error instanceof Error ? error.message : String(error)}`;
          } finally {
            await locker.end().catch(() => undefined);
          }
        },
        async locksHeldBy() {
          return '';
        },
        async close() {
          await conn.end();
        },
      };
    }
  }
}
