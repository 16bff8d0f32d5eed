import type { SecretScope } from '../../shared/redact.js';
import { TransactionControlError } from '../errors.js';
import { requireCurrent, toRecord } from '../record.js';
import { judgeReplication, replicationSql } from '../replication-mode.js';
import { ensureSchema } from '../schema.js';
import { ddl, leaseSchema, leaseSql, type LeaseSql } from '../sql.js';
import { transactionControlKeyword } from './transaction-control.js';
import type { Dialect, LeaseRecord, ReplicationInfo, LeaseStore, SqlExecutor, StatementResult, TransactionOptions } from '../types.js';

/** Bound of `read()` (operator status, admin actions), on the server too: a plain read takes no row lock but may wait on a metadata or relation lock. */
const READ_TIMEOUT_MS = 5_000;

/** What a dialect store supplies; {@link makeStore} builds the common `LeaseStore` on top. */
export interface StoreDriver {
  dialect: Dialect;
  table: string;
  run(sql: string, params: readonly unknown[], options?: { timeoutMs?: number }): Promise<StatementResult>;
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  close(): Promise<void>;
  watchReleases?(name: string, onRelease: () => void): Promise<() => Promise<void>>;
  notifyRelease?(name: string): Promise<void>;
  /** Runs once the schema is in place (SQLite: carries an older in-file lease table over). */
  afterSchema?(): Promise<void>;
  /** The store's literal secrets (see {@link LeaseStore.secrets}). */
  secrets?: SecretScope;
  /** See {@link LeaseStore.replication}. */
  replication?(): Promise<ReplicationInfo>;
}

/** A store built here: the engine's statements are prepared once per table. */
export interface SqlLeaseStore extends LeaseStore {
  /** The statements prepared for this store's dialect and table. */
  readonly sql: LeaseSql;
  run(sql: string, params?: readonly unknown[], options?: { timeoutMs?: number }): Promise<StatementResult>;
}

export function makeStore(driver: StoreDriver): SqlLeaseStore {
  const sql = leaseSql(driver.dialect, driver.table);
  let closed: Promise<void> | undefined;
  const store: SqlLeaseStore = {
    dialect: driver.dialect,
    table: driver.table,
    ...(driver.secrets === undefined ? {} : { secrets: driver.secrets }),
    sql,
    ddl: () => ddl(driver.dialect, driver.table),
    // Reads the catalog first: no DDL (and no DDL lock) when the table is there. See schema.ts.
    init: async () => {
      await ensureSchema(store, leaseSchema(driver.dialect, driver.table), `hotcold:${driver.table}`);
      await driver.afterSchema?.();
    },
    // One statement in autocommit: a BEGIN (or SET autocommit = 0, SET NAMES latin1) would stay on
    // the connection it ran on — on SQLite the store's only one — and every statement after it,
    // the lease's renewals included, would run inside a transaction nobody commits. Savepoints
    // too: outside a transaction SQLite's SAVEPOINT opens one.
    run: (text, params = [], options) => {
      const keyword = typeof text === 'string' ? (transactionControlKeyword(driver.dialect, text, 'unknown') ?? savepointKeyword(text)) : undefined;
      if (keyword !== undefined) return Promise.reject(new TransactionControlError(`${driver.dialect} store`, keyword, 'run'));
      return driver.run(text, params, options);
    },
    async read(name: string): Promise<LeaseRecord | null> {
      const { rows } = await driver.run(sql.read, [name], { timeoutMs: READ_TIMEOUT_MS });
      const row = rows[0];
      return row === undefined ? null : toRecord(name, row);
    },
    transaction: (fn, options) => driver.transaction(fn, options),
    async assertHeld(tx: SqlExecutor, name: string, token: number, holder?: string): Promise<void> {
      requireCurrent(name, token, (await tx.query(sql.readLocked, [name]))[0], holder);
    },
    close() {
      closed ??= driver.close().finally(() => driver.secrets?.clear());
      return closed;
    },
  };
  const replicationQuery = replicationSql(driver.dialect);
  store.replication = driver.replication
    ? driver.replication.bind(driver)
    : async () => judgeReplication(driver.dialect, replicationQuery === undefined ? undefined : (await driver.run(replicationQuery, [], { timeoutMs: READ_TIMEOUT_MS })).rows[0]);
  if (driver.watchReleases && driver.notifyRelease) {
    store.watchReleases = driver.watchReleases.bind(driver);
    store.notifyRelease = driver.notifyRelease.bind(driver);
  }
  return store;
}

/** `SAVEPOINT`, `RELEASE`, `ROLLBACK … TO` at the head of `sql` (after whitespace and comments): allowed inside a transaction, not in `run()`. */
function savepointKeyword(sql: string): string | undefined {
  const head = sql.replace(/^(\s+|--[^\n]*\n|\/\*[\s\S]*?\*\/)*/, '');
  return /^(savepoint|release|rollback\s+((work|transaction)\s+)?to)\b/i.test(head) ? 'SAVEPOINT' : undefined;
}

/** The `?`-placeholder SQL executor contract on top of a `run`-like function. */
export function executor(
  dialect: Dialect,
  run: (sql: string, params: readonly unknown[]) => Promise<StatementResult>,
): SqlExecutor {
  return {
    dialect,
    async query<R extends Record<string, unknown> = Record<string, unknown>>(text: string, params: readonly unknown[] = []) {
      return (await run(text, params)).rows as R[];
    },
    async execute(text: string, params: readonly unknown[] = []) {
      return { changes: (await run(text, params)).changes };
    },
  };
}
