import type BetterSqlite3 from 'better-sqlite3';
import { requireSqlIdentifier, requirePositiveInteger, rejectUnknownKeys } from '../../shared/validate.js';
import { monotonicNow } from '../../shared/clock.js';
import { ConfigurationError } from '../../errors.js';
import { LeaseError, StoreBusyError, StoreSchemaError, TransactionRolledBackError } from '../errors.js';
import { LEASE_COLUMNS, leaseSql } from '../sql.js';
import type { SqlExecutor, StatementResult, TransactionOptions } from '../types.js';
import { abandonable } from './abandonable.js';
import { executor, makeStore, type SqlLeaseStore } from './base.js';
import { loadDriver } from './load-driver.js';
import { Mutex } from './mutex.js';
import { whileBusy } from './sqlite-busy.js';
import { requireCurrent } from '../record.js';
import { leasePathForOpenFile, namesTable } from './sqlite-lease-file.js';
import type { SqliteDatabaseLike } from './driver-shapes.js';
import { refusingTransactionControl } from './transaction-control.js';

/** Options of {@link sqliteStore}. */
export interface SqliteStoreOptions {
  /**
   * Lease table.
   * @default 'hotcold_lease'
   */
  table?: string;
  /**
   * The longest wait, in ms, for a lock another process holds: the application database's write
   * lock when a transaction starts, and the lease file's lock for a lease statement. The wait is
   * asynchronous (SQLite `busy_timeout` 0 and retries on 1–8 ms timers): the event loop is never
   * blocked. Past it the store throws `StoreBusyError` (transient; nothing was committed).
   * A transaction's wait in this process's own queue counts against the same bound.
   * @default 2000
   */
  busyTimeoutMs?: number;
  /**
   * The file that holds the lease table.
   * @default `<database file>-lease` beside the database (`:memory:` for an in-memory database)
   */
  leasePath?: string;
}

type Database = BetterSqlite3.Database;
type Statement = BetterSqlite3.Statement<unknown[]>;

const STATEMENT_CACHE_LIMIT = 256;

/** A connection with its prepared statements. */
interface Conn {
  db: Database;
  cache: Map<string, Statement>;
}

/** The fences (`assertHeld`) passed in the open transaction: re-checked under lock at COMMIT. */
interface OpenTransaction {
  fences: Array<{ name: string; token: number; holder: string | undefined }>;
}

function statement(conn: Conn, sql: string): Statement {
  let stmt = conn.cache.get(sql);
  if (!stmt) {
    if (conn.cache.size >= STATEMENT_CACHE_LIMIT) conn.cache.clear();
    stmt = conn.db.prepare(sql);
    conn.cache.set(sql, stmt);
  }
  return stmt;
}

function exec(conn: Conn, sql: string, params: readonly unknown[]): StatementResult {
  const stmt = statement(conn, sql);
  const args = params.map((p) => (typeof p === 'boolean' ? (p ? 1 : 0) : p));
  if (stmt.reader) return { rows: stmt.all(...args) as Record<string, unknown>[], changes: 0 };
  return { rows: [], changes: stmt.run(...args).changes };
}

/**
 * The embedded store: SQLite files shared by several processes on ONE host (expiry is judged on
 * that host's clock).
 *
 * Two files, two connections. The application's data (dedup, feeds, the handlers' tables) is in
 * the database file; its transactions run under `BEGIN IMMEDIATE`, holding that file's write lock
 * for a whole call, serialised on one connection by an async mutex. The lease row is in a file of
 * its own (`leasePath`), touched only by single statements that hold its lock for microseconds —
 * so a process frozen in the middle of a call (holding the application's write lock) delays
 * neither the other processes' renewals nor their takeover.
 *
 * The fence spans both files: `assertHeld` checks the lease row when the call starts, and COMMIT
 * re-checks it while holding the lease file's write lock, so no takeover can commit between the
 * check and the application's COMMIT (see docs/lease.md, "SQLite").
 *
 * No lock is ever waited for synchronously: `busy_timeout` is 0 and a busy lock is retried on
 * short timers, up to `busyTimeoutMs`, then `StoreBusyError`.
 *
 * Without `better-sqlite3` installed, the store's first operation rejects with {@link DriverMissingError}.
 *
 * @param pathOrDatabaseLike - The database file's path (the store opens and closes it), or your
 * better-sqlite3 `Database` (left open).
 * @param options - Table names, `leasePath`, `busyTimeoutMs`; see {@link SqliteStoreOptions}.
 * @throws {ConfigurationError} when the path or an option is invalid (naming the field).
 * @example
 * ```ts
 * import { createLease, sqliteStore } from 'hotcold/lease';
 *
 * const store = sqliteStore('/var/lib/app/app.db');
 * const lease = createLease({ store, machineName: 'node-a', mode: 'warm' });
 * ```
 */
export function sqliteStore(pathOrDatabaseLike: string | SqliteDatabaseLike, options: SqliteStoreOptions = {}): SqlLeaseStore {
  // The public signature names the shape only (the .d.ts must compile without @types/better-sqlite3).
  const pathOrDatabase = pathOrDatabaseLike as string | Database;
  rejectUnknownKeys('', options, ['table', 'busyTimeoutMs', 'leasePath']);
  const table = requireSqlIdentifier('table', options.table ?? 'hotcold_lease');
  const busyTimeoutMs = requirePositiveInteger('busyTimeoutMs', options.busyTimeoutMs ?? 2000);
  const owned = typeof pathOrDatabase === 'string';
  if (owned && pathOrDatabase.length === 0) throw new ConfigurationError('path', 'must be a non-empty file path');
  if (!owned && (typeof pathOrDatabase !== 'object' || pathOrDatabase === null || typeof pathOrDatabase.prepare !== 'function')) {
    throw new ConfigurationError('database', 'must be a file path or a better-sqlite3 Database');
  }
  if (options.leasePath !== undefined && (typeof options.leasePath !== 'string' || options.leasePath.length === 0)) {
    throw new ConfigurationError('leasePath', 'must be a non-empty file path');
  }
  // Resolved once the database is open (its file exists then): see leasePathForOpenFile.
  let leasePath: string | undefined = options.leasePath;
  const sql = leaseSql('sqlite', table);
  const isLeaseStatement = namesTable(table);

  let conns: { app: Conn; lease: Conn } | undefined;
  let opening: Promise<{ app: Conn; lease: Conn }> | undefined;
  const open = (): Promise<{ app: Conn; lease: Conn }> => {
    if (conns) return Promise.resolve(conns);
    opening ??= loadDriver<typeof BetterSqlite3>('better-sqlite3', 'sqliteStore').then(async (Driver) => {
      const started = monotonicNow();
      const deadline = started + busyTimeoutMs;
      // timeout 0: SQLite's busy handler sleeps on the calling thread, which here is the event loop.
      const app = owned ? new Driver(pathOrDatabase, { timeout: 0 }) : pathOrDatabase;
      let lease: Database | undefined;
      try {
        leasePath ??= owned ? leasePathForOpenFile(pathOrDatabase, false) : leasePathForOpenFile(pathOrDatabase.name, pathOrDatabase.memory);
        lease = new Driver(leasePath, { timeout: 0 });
        const leaseDb = lease;
        if (owned) {
          await whileBusy('sqliteStore: opening the database', () => app.pragma('journal_mode = WAL'), deadline, started);
          // NORMAL is durable in WAL mode except against power loss of the last commits.
          app.pragma('synchronous = NORMAL');
        }
        await whileBusy('sqliteStore: opening the lease file', () => leaseDb.pragma('journal_mode = WAL'), deadline, started);
        // FULL: a takeover lost to a power cut would hand out its token again (see onLease).
        leaseDb.pragma('synchronous = FULL');
      } catch (error) {
        lease?.close();
        if (owned) app.close();
        // The next call tries again (a busy file at start-up is transient).
        opening = undefined;
        throw error;
      }
      conns = { app: { db: app, cache: new Map() }, lease: { db: lease, cache: new Map() } };
      return conns;
    });
    return opening;
  };

  let closed = false;
  const ensureOpen = async (): Promise<{ app: Conn; lease: Conn }> => {
    if (closed) throw new Error('sqliteStore is closed');
    return open();
  };

  const mutex = new Mutex();
  let current: OpenTransaction | undefined;

  /**
   * One statement on the lease file: autocommit, its lock held only while it runs. The file runs
   * `synchronous = FULL`: a takeover is on disk before anyone acts on its token, which the
   * application's commits (another file, `NORMAL`) must never outlive across a power cut. A
   * renewal alone may be lost to one (everything restarts then), so it skips the fsync: it is the
   * frequent write, and the lease file's lock is held while it runs.
   */
  const onLease = async (text: string, params: readonly unknown[], timeoutMs = busyTimeoutMs): Promise<StatementResult> => {
    const { lease } = await ensureOpen();
    const started = monotonicNow();
    const attempt =
      text === sql.renew
        ? (): StatementResult => {
            lease.db.pragma('synchronous = NORMAL');
            try {
              return exec(lease, text, params);
            } finally {
              lease.db.pragma('synchronous = FULL');
            }
          }
        : (): StatementResult => exec(lease, text, params);
    return whileBusy('sqliteStore: lease statement', attempt, started + timeoutMs, started);
  };

  /**
   * Runs a lock-taking statement (BEGIN IMMEDIATE, COMMIT) so that it fails at once when the lock
   * is taken, whatever the connection's busy_timeout: the user's Database keeps its own settings,
   * except for that instant. (COMMIT waits for readers in rollback-journal mode; never in WAL.)
   */
  const noWait = (app: Conn, text: string): void => {
    if (owned) {
      app.db.exec(text);
      return;
    }
    const saved = app.db.pragma('busy_timeout', { simple: true }) as number;
    app.db.pragma('busy_timeout = 0');
    try {
      app.db.exec(text);
    } finally {
      app.db.pragma(`busy_timeout = ${saved}`);
    }
  };

  /**
   * The second half of the fence, all synchronous: hold the lease file's write lock, re-read each
   * fenced lease row, COMMIT the application's transaction, let the lease lock go. No takeover can
   * commit in between, so the application's commit happens while its token is current.
   */
  const commitFenced = (app: Conn, lease: Conn, fences: OpenTransaction['fences']): void => {
    lease.db.exec('BEGIN IMMEDIATE');
    try {
      for (const { name, token, holder } of fences) requireCurrent(name, token, exec(lease, sql.read, [name]).rows[0], holder);
      // A busy COMMIT leaves the transaction open: the whole section is tried again.
      noWait(app, 'COMMIT');
    } finally {
      // Nothing was written to the lease file: ROLLBACK only ends the read-write transaction.
      if (lease.db.inTransaction) lease.db.exec('ROLLBACK');
    }
  };

  const store = makeStore({
    dialect: 'sqlite',
    table,
    async run(text, params, runOptions) {
      const timeoutMs = runOptions?.timeoutMs ?? busyTimeoutMs;
      if (isLeaseStatement(text)) return onLease(text, params, timeoutMs);
      const { app } = await ensureOpen();
      const started = monotonicNow();
      const deadline = started + timeoutMs;
      return mutex.runBefore(
        deadline,
        () => new StoreBusyError('sqliteStore: statement (queued behind this process\'s open transaction)', monotonicNow() - started),
        () => whileBusy('sqliteStore: statement', () => exec(app, text, params), deadline, started),
      );
    },
    transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, txOptions?: TransactionOptions): Promise<T> {
      const started = monotonicNow();
      const deadline = started + busyTimeoutMs;
      // No server to wait on: the transaction is in-process, so giving up on it is a synchronous
      // ROLLBACK (COMMIT is synchronous too: an abort sees it either done or not begun).
      let began: Conn | undefined;
      const discard = (): void => {
        if (began?.db.inTransaction) began.db.exec('ROLLBACK');
        began = undefined;
      };
      return abandonable('sqliteStore', txOptions?.signal, async (progress) => {
        const gone = (): Error => new Error('sqliteStore: the transaction was abandoned; this statement was not run');
        const { app, lease } = await ensureOpen();
        return mutex.runBefore(
          deadline,
          () => new StoreBusyError('sqliteStore: starting a transaction (queued behind this process\'s open transaction)', monotonicNow() - started),
          async () => {
            const begin = (): void => {
              if (progress.abandoned) throw gone();
              noWait(app, 'BEGIN IMMEDIATE');
            };
            await whileBusy('sqliteStore: starting a transaction', begin, deadline, started);
            began = app;
            const open: OpenTransaction = { fences: [] };
            current = open;
            // After an abandon, a late statement would autocommit outside any transaction.
            const live = (): void => {
              if (progress.abandoned) throw gone();
            };
            // SQLite rolls the whole transaction back on some errors (ON CONFLICT ROLLBACK,
            // RAISE(ROLLBACK), FULL, IOERR, NOMEM) and runs what follows in autocommit: once a
            // failed statement left no transaction, nothing more runs and nothing commits.
            let rolledBack = false;
            const rolledBackError = (): TransactionRolledBackError =>
              new TransactionRolledBackError('sqliteStore: SQLite rolled the transaction back after an error inside it (which was caught); nothing was committed, and this was not run');
            try {
              const tx = executor('sqlite', async (text, params) => {
                live();
                if (rolledBack) throw rolledBackError();
                if (isLeaseStatement(text)) return onLease(text, params);
                try {
                  return exec(app, text, params);
                } catch (error) {
                  if (!app.db.inTransaction) rolledBack = true;
                  throw error;
                }
              });
              // A COMMIT, ROLLBACK, SAVEPOINT… of fn's is refused before it is sent (transaction-control.ts).
              const result = await refusingTransactionControl('sqliteStore', fn, () => 'literal')(tx);
              const commitStarted = monotonicNow();
              // `committed` is set in the same synchronous step as COMMIT: an abort that comes
              // before the await resumes must see it.
              const commit = (): void => {
                live();
                if (rolledBack) throw rolledBackError();
                if (open.fences.length === 0) noWait(app, 'COMMIT');
                else commitFenced(app, lease, open.fences);
                progress.committed = true;
              };
              await whileBusy(open.fences.length === 0 ? 'sqliteStore: committing' : 'sqliteStore: fencing the commit', commit, commitStarted + busyTimeoutMs, commitStarted);
              return result;
            } catch (error) {
              if (app.db.inTransaction && !progress.abandoned) app.db.exec('ROLLBACK');
              throw error;
            } finally {
              began = undefined;
              current = undefined;
            }
          },
        );
      }, discard);
    },
    async afterSchema() {
      const { app, lease } = await ensureOpen();
      // Rows of a lease table an older version kept in the database file itself: carried over
      // once, so that tokens keep rising (a plain read: WAL readers never wait for the writer).
      const legacy = (): Record<string, unknown>[] => {
        const columns = (app.db.prepare('SELECT name FROM pragma_table_info(?)').all(table) as { name: string }[]).map((c) => c.name.toLowerCase());
        if (columns.length === 0) return [];
        // A table of that name that is not a lease table of ours: refuse, as for the lease file.
        const absent = LEASE_COLUMNS.filter((c) => !columns.includes(c.toLowerCase()));
        if (absent.length > 0) throw new StoreSchemaError(table, absent);
        return app.db.prepare(`SELECT name, holder, token, version, renewed_at, wait_interval_ms FROM ${table}`).all() as Record<string, unknown>[];
      };
      const started = monotonicNow();
      const carried = leasePath === ':memory:' ? [] : await whileBusy('sqliteStore: reading an older lease table', legacy, started + busyTimeoutMs, started);
      if (carried.length === 0) return;
      await whileBusy(
        'sqliteStore: carrying the older lease table over',
        () => {
          // IMMEDIATE: two processes carrying over at once serialise on the lease file's write lock.
          lease.db.exec('BEGIN IMMEDIATE');
          try {
            for (const row of carried) {
              exec(lease, `INSERT OR IGNORE INTO ${table} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, ?, ?, ?, ?, ?)`, [
                row.name,
                row.holder,
                row.token,
                row.version,
                row.renewed_at,
                row.wait_interval_ms,
              ]);
            }
            lease.db.exec('COMMIT');
          } catch (error) {
            if (lease.db.inTransaction) lease.db.exec('ROLLBACK');
            throw error;
          }
        },
        started + busyTimeoutMs,
        started,
      );
    },
    async close() {
      closed = true;
      // Let a running transaction finish before closing the connection under it.
      await mutex.run(() => undefined);
      const opened = conns ?? (opening ? await opening.catch(() => undefined) : undefined);
      if (!opened) return;
      opened.app.cache.clear();
      opened.lease.cache.clear();
      opened.lease.db.close();
      if (owned) opened.app.db.close();
    },
  });

  // The lease row is not in the transaction's database: read it on the lease connection, and
  // remember the fence so that COMMIT re-checks it under the lease file's lock.
  store.assertHeld = async (_tx: SqlExecutor, name: string, token: number, holder?: string): Promise<void> => {
    const open = current;
    if (!open) throw new LeaseError('sqliteStore.assertHeld must run inside store.transaction()');
    const { rows } = await onLease(sql.read, [name]);
    requireCurrent(name, token, rows[0], holder);
    open.fences.push({ name, token, holder });
  };
  return store;
}
