import type BetterSqlite3 from 'better-sqlite3';
import { requireSqlIdentifier, requirePositiveInteger, rejectUnknownKeys } from '../../shared/validate.js';
import { ConfigurationError } from '../../errors.js';
import type { SqlExecutor, StatementResult } from '../types.js';
import { executor, makeStore, type SqlLeaseStore } from './base.js';
import { loadDriver } from './load-driver.js';
import { Mutex } from './mutex.js';

export interface SqliteStoreOptions {
  /** Lease table; default `hotcold_lease`. */
  table?: string;
  /**
   * How long a statement waits for another process's write lock, in ms (SQLite `busy_timeout`;
   * better-sqlite3 waits synchronously). Only applied to a database the store opens. Default 2000.
   */
  busyTimeoutMs?: number;
}

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement<unknown[]>;

const STATEMENT_CACHE_LIMIT = 256;

/**
 * The embedded store: a SQLite file shared by several processes on ONE host (expiry is judged on
 * that host's clock). Opens the file in WAL mode with a busy timeout, and serialises everything on
 * its connection with a mutex, because an async `transaction(fn)` holds the connection while it
 * awaits. Writes run under `BEGIN IMMEDIATE`, so a transaction holds the database write lock from
 * its first statement and `assertHeld` needs no row lock.
 */
export function sqliteStore(pathOrDatabase: string | Database, options: SqliteStoreOptions = {}): SqlLeaseStore {
  rejectUnknownKeys('', options, ['table', 'busyTimeoutMs']);
  const table = requireSqlIdentifier('table', options.table ?? 'hotcold_lease');
  const busyTimeoutMs = requirePositiveInteger('busyTimeoutMs', options.busyTimeoutMs ?? 2000);
  const owned = typeof pathOrDatabase === 'string';
  if (owned && pathOrDatabase.length === 0) throw new ConfigurationError('path', 'must be a non-empty file path');
  if (!owned && (typeof pathOrDatabase !== 'object' || pathOrDatabase === null || typeof pathOrDatabase.prepare !== 'function')) {
    throw new ConfigurationError('database', 'must be a file path or a better-sqlite3 Database');
  }

  let db: Database | undefined = owned ? undefined : pathOrDatabase;
  let opening: Promise<Database> | undefined;
  const open = (): Promise<Database> => {
    if (db) return Promise.resolve(db);
    opening ??= loadDriver<typeof BetterSqlite3>('better-sqlite3', 'sqliteStore').then((Driver) => {
      const opened = new Driver(pathOrDatabase as string, { timeout: busyTimeoutMs });
      opened.pragma('journal_mode = WAL');
      opened.pragma(`busy_timeout = ${busyTimeoutMs}`);
      // NORMAL is durable in WAL mode except against power loss of the last commits.
      opened.pragma('synchronous = NORMAL');
      db = opened;
      return opened;
    });
    return opening;
  };

  const mutex = new Mutex();
  const cache = new Map<string, Statement>();
  const statement = (conn: Database, sql: string): Statement => {
    let stmt = cache.get(sql);
    if (!stmt) {
      if (cache.size >= STATEMENT_CACHE_LIMIT) cache.clear();
      stmt = conn.prepare(sql);
      cache.set(sql, stmt);
    }
    return stmt;
  };
  const exec = (conn: Database, sql: string, params: readonly unknown[]): StatementResult => {
    const stmt = statement(conn, sql);
    const args = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
    if (stmt.reader) return { rows: stmt.all(...args) as Record<string, unknown>[], changes: 0 };
    return { rows: [], changes: stmt.run(...args).changes };
  };

  let closed = false;
  const ensureOpen = async (): Promise<Database> => {
    if (closed) throw new Error('sqliteStore is closed');
    return open();
  };

  return makeStore({
    dialect: 'sqlite',
    table,
    async run(sql, params) {
      const conn = await ensureOpen();
      return mutex.run(() => exec(conn, sql, params));
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const conn = await ensureOpen();
      return mutex.run(async () => {
        conn.exec('BEGIN IMMEDIATE');
        try {
          const tx = executor('sqlite', async (sql, params) => exec(conn, sql, params));
          const result = await fn(tx);
          conn.exec('COMMIT');
          return result;
        } catch (error) {
          if (conn.inTransaction) conn.exec('ROLLBACK');
          throw error;
        }
      });
    },
    async close() {
      closed = true;
      // Let a running transaction finish before closing the connection under it.
      await mutex.run(() => undefined);
      cache.clear();
      if (owned) {
        const conn = db ?? (opening ? await opening.catch(() => undefined) : undefined);
        conn?.close();
      }
    },
  });
}
