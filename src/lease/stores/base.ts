import type { SecretScope } from '../../shared/redact.js';
import { requireCurrent, toRecord } from '../record.js';
import { judgeReplication, replicationSql } from '../replication-mode.js';
import { ensureSchema } from '../schema.js';
import { ddl, leaseSchema, leaseSql, type LeaseSql } from '../sql.js';
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
    run: (text, params = [], options) => driver.run(text, params, options),
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
