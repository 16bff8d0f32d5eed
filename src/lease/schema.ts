import { sleep } from '../shared/sleep.js';
import { monotonicNow } from '../shared/clock.js';
import { LeaseTimeoutError, StoreSchemaError } from './errors.js';
import { asPermanentStoreError } from './permanent-errors.js';
import { runStatement } from './run-statement.js';
import { mariadbTimeoutSeconds, pgTimeoutMs } from './db-timeouts.js';
import { indexColumnSets, shapeCatalogSql, shapeProblems, type TableShape } from './schema-shape.js';
import type { Dialect, LeaseStore, SqlExecutor } from './types.js';

/**
 * Creating the tables the engine and the node need, without ever making anyone else wait.
 *
 * DDL takes locks that conflict with ordinary writes: PostgreSQL's `CREATE [UNIQUE] INDEX IF NOT
 * EXISTS` takes a SHARE lock on the table BEFORE it looks at the index name, and MariaDB's
 * `CREATE INDEX` takes an exclusive metadata lock. Queued behind one open transaction, such a
 * request makes every later insert or renewal on that table queue behind IT (both databases grant
 * lock requests in order). So the catalog is read first — plain catalog reads take no lock on the
 * table — and DDL runs only for an object that is really missing, with a short lock bound, under a
 * start-up lock taken by try-lock (never a blocking wait), in a transaction the database ends if
 * this process freezes inside it.
 */

/** A table with the columns the code reads and writes (extra columns are fine). */
export interface SchemaTable {
  readonly kind: 'table';
  readonly name: string;
  readonly columns: readonly string[];
  readonly create: string;
  /** The types, widths and key the statements need; checked on an existing table before use. */
  readonly shape?: TableShape;
}

/** An index on `table`. */
export interface SchemaIndex {
  readonly kind: 'index';
  readonly name: string;
  readonly table: string;
  readonly create: string;
}

export type SchemaObject = SchemaTable | SchemaIndex;

/** The bounds of start-up; see docs/lease.md "Bounds". All in ms. */
export interface SchemaBounds {
  /** Longest wait of one DDL statement for a lock (others queue behind a waiting DDL). */
  readonly lockTimeoutMs: number;
  /** Longest run of one catalog read or DDL statement. */
  readonly statementTimeoutMs: number;
  /** Longest time spent retrying the start-up try-lock before giving up (a transient fault). */
  readonly startupLockWaitMs: number;
  /** The database ends the DDL transaction if this process goes silent in it this long (frozen peer). */
  readonly idleTimeoutMs: number;
}

export const DEFAULT_SCHEMA_BOUNDS: SchemaBounds = {
  lockTimeoutMs: 500,
  statementTimeoutMs: 10_000,
  startupLockWaitMs: 2_000,
  idleTimeoutMs: 2_000,
};

const STARTUP_LOCK_RETRY_MS = 50;

type Query = (sql: string, params: readonly unknown[]) => Promise<Record<string, unknown>[]>;

function catalogSql(dialect: Dialect): { columns: string; index: string } {
  switch (dialect) {
    case 'postgres':
      // to_regclass folds an unquoted name like the CREATE did and takes no lock on the table.
      return {
        columns:
          'SELECT a.attname AS c FROM pg_catalog.pg_class t LEFT JOIN pg_catalog.pg_attribute a ON a.attrelid = t.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE t.oid = to_regclass(?)',
        index: 'SELECT 1 AS present FROM pg_catalog.pg_class WHERE oid = to_regclass(?)',
      };
    case 'mysql':
      return {
        columns: 'SELECT COLUMN_NAME AS c FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        index: 'SELECT 1 AS present FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = ? AND TABLE_NAME = ? LIMIT 1',
      };
    case 'sqlite':
      return {
        columns: 'SELECT name AS c FROM pragma_table_info(?)',
        index: "SELECT 1 AS present FROM sqlite_master WHERE type = 'index' AND name = ? COLLATE NOCASE AND tbl_name = ? COLLATE NOCASE",
      };
  }
}

/** The objects that do not exist yet; throws `StoreSchemaError` for a table with missing columns. */
async function missingObjects(dialect: Dialect, query: Query, objects: readonly SchemaObject[]): Promise<SchemaObject[]> {
  const sql = catalogSql(dialect);
  const missing: SchemaObject[] = [];
  for (const object of objects) {
    if (object.kind === 'table') {
      // SQLite: the name goes into the text (a validated identifier), so a store that keeps a
      // table in a file of its own (the lease file) sees which table the catalog read is about.
      const rows =
        dialect === 'sqlite'
          ? await query(`SELECT name AS c FROM pragma_table_info('${object.name}')`, [])
          : await query(sql.columns, [object.name]);
      if (rows.length === 0) {
        missing.push(object);
        continue;
      }
      // A database cell is a string, number, bigint or Buffer here, never a plain object.
      // eslint-disable-next-line @typescript-eslint/no-base-to-string
      const present = new Set(rows.map((r) => String(r.c ?? '').toLowerCase()));
      const absent = object.columns.filter((c) => !present.has(c.toLowerCase()));
      if (absent.length > 0) throw new StoreSchemaError(object.name, absent);
      if (object.shape !== undefined) {
        const shapeSql = shapeCatalogSql(dialect, object.name);
        const columns = (await query(shapeSql.columns, shapeSql.params)).map((r) => ({
          name: String(r.c),
          // A database cell is a string, number, bigint or Buffer here, never a plain object.
          // eslint-disable-next-line @typescript-eslint/no-base-to-string
          type: String(r.t ?? ''),
          length: r.len === null || r.len === undefined ? null : Number(r.len),
          // A database cell is a string, number, bigint or Buffer here, never a plain object.
          // eslint-disable-next-line @typescript-eslint/no-base-to-string
          collation: r.coll === null || r.coll === undefined ? null : String(r.coll),
        }));
        const unique = indexColumnSets(await query(shapeSql.unique, shapeSql.params));
        const problems = shapeProblems(dialect, object.shape, columns, unique);
        if (problems.length > 0) throw new StoreSchemaError(object.name, [], undefined, problems);
      }
    } else {
      const params = dialect === 'postgres' ? [object.name] : [object.name, object.table];
      if ((await query(sql.index, params)).length === 0) missing.push(object);
    }
  }
  return missing;
}

function isDuplicateIndex(error: unknown): boolean {
  const e = error as { errno?: unknown; code?: unknown };
  return e.errno === 1061 || e.code === 'ER_DUP_KEYNAME';
}

async function createMissing(store: LeaseStore, objects: readonly SchemaObject[], lockKey: string, bounds: SchemaBounds): Promise<void> {
  const dialect = store.dialect;
  await store.transaction(async (tx: SqlExecutor) => {
    const query: Query = (sql, params) => tx.query(sql, params);
    if (dialect === 'postgres') {
      await tx.execute(`SET LOCAL lock_timeout = ${pgTimeoutMs(bounds.lockTimeoutMs)}`);
      await tx.execute(`SET LOCAL statement_timeout = ${pgTimeoutMs(bounds.statementTimeoutMs)}`);
      await tx.execute(`SET LOCAL idle_in_transaction_session_timeout = ${pgTimeoutMs(bounds.idleTimeoutMs)}`);
      // Concurrent CREATE ... IF NOT EXISTS can still collide in PostgreSQL's catalog (23505 on
      // pg_type): racing creators take turns, by try-lock so that a frozen peer holding it costs a
      // bounded wait (and the database ends the peer's transaction after idleTimeoutMs anyway).
      const until = monotonicNow() + bounds.startupLockWaitMs;
      for (;;) {
        const rows = await tx.query('SELECT pg_try_advisory_xact_lock(hashtext(?)) AS locked', [lockKey]);
        if (rows[0]?.locked === true) break;
        if (monotonicNow() >= until) throw new LeaseTimeoutError(`the start-up lock '${lockKey}' (another process is creating the tables)`, bounds.startupLockWaitMs);
        await sleep(STARTUP_LOCK_RETRY_MS);
      }
    }
    let restore = false;
    try {
      if (dialect === 'mysql') {
        // Whole seconds; lock_wait_timeout bounds the METADATA lock a DDL statement waits for.
        const seconds = mariadbTimeoutSeconds(bounds.lockTimeoutMs);
        await tx.execute(`SET SESSION lock_wait_timeout = ${seconds}, innodb_lock_wait_timeout = ${seconds}`);
        restore = true;
      }
      // Another process may have created them meanwhile: look again, under the lock.
      for (const object of await missingObjects(dialect, query, objects)) {
        try {
          await tx.execute(object.create);
        } catch (error) {
          // MySQL has no CREATE INDEX IF NOT EXISTS; a racing creator may have made it.
          if (!(dialect === 'mysql' && isDuplicateIndex(error))) throw error;
        }
      }
    } finally {
      // The pooled session goes back with the server's defaults.
      if (restore) await tx.execute('SET SESSION lock_wait_timeout = DEFAULT, innodb_lock_wait_timeout = DEFAULT').catch(() => undefined);
    }
  });
}

/**
 * Makes sure `objects` exist, issuing no DDL at all when they already do. Permanent faults
 * (privileges, a table of the wrong shape, authentication, a missing database or driver) throw a
 * typed `StoreConfigurationError`; anything else (a lock or statement bound hit, a busy start-up
 * lock) is transient and thrown as it is, for the caller to retry.
 *
 * @param lockKey names the start-up lock (PostgreSQL advisory lock) racing creators take turns on.
 * @throws StoreConfigurationError, or the transient fault.
 */
export async function ensureSchema(
  store: LeaseStore,
  objects: readonly SchemaObject[],
  lockKey: string,
  bounds: SchemaBounds = DEFAULT_SCHEMA_BOUNDS,
): Promise<void> {
  try {
    const read: Query = async (sql, params) => (await runStatement(store, sql, params, bounds.statementTimeoutMs)).rows;
    const missing = await missingObjects(store.dialect, read, objects);
    if (missing.length === 0) return;
    await createMissing(store, missing, lockKey, bounds);
  } catch (error) {
    throw asPermanentStoreError(error, `preparing table(s) ${[...new Set(objects.map((o) => (o.kind === 'table' ? o.name : o.table)))].join(', ')}`) ?? error;
  }
}
