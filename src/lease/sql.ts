import { MYSQL_EXACT_COLLATION_MARKER } from './exact-collation.js';
import { generationBaseSql, generationSql } from './generation.js';
import type { SchemaObject } from './schema.js';
import type { TableShape } from './schema-shape.js';
import type { Dialect } from './types.js';

/**
 * Every lease statement, per dialect. Placeholders are `?` everywhere (the PostgreSQL store
 * rewrites them). Each state change is ONE conditional UPDATE, so the database's row-level
 * atomicity is the only thing acquisition, renewal, release and takeover rely on.
 *
 * Time: `renewed_at` holds milliseconds since the epoch read from the DATABASE's clock, and expiry
 * is always decided inside SQL against the same clock. No node's wall clock is ever compared to
 * another's.
 */

/** Milliseconds since the epoch on the database server's clock, evaluated inside the statement. */
export function nowMs(dialect: Dialect): string {
  switch (dialect) {
    case 'postgres':
      // clock_timestamp(), not now(): now() is frozen at transaction start, so in a long
      // transaction it would judge expiry in the past.
      return '(EXTRACT(EPOCH FROM clock_timestamp()) * 1000)::double precision';
    case 'mysql':
      // UTC_TIMESTAMP + TIMESTAMPDIFF is pure arithmetic: UNIX_TIMESTAMP(NOW()) would go through the
      // session time zone and jump by an hour at a DST change.
      return "(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', UTC_TIMESTAMP(6)) / 1000.0)";
    case 'sqlite':
      // One host, one clock: every process on the host reads the same system clock.
      return "(unixepoch('subsec') * 1000.0)";
  }
}

export function ddl(dialect: Dialect, table: string): string[] {
  return leaseSchema(dialect, table).map((object) => object.create);
}

/** The columns every statement below reads or writes. */
export const LEASE_COLUMNS = ['name', 'holder', 'token', 'version', 'renewed_at', 'wait_interval_ms'] as const;

/** Longest holder id: machineName (at most 200 characters) + '#' + 12 hex digits. */
export const MAX_HOLDER_LENGTH = 213;

/** What the statements need of the lease table's columns (see schema-shape.ts). */
export const LEASE_SHAPE: TableShape = {
  columns: {
    // Compared byte for byte: a NO PAD binary collation on MariaDB/MySQL (exact-collation.ts).
    name: { kind: 'text', minLength: 191, exact: true },
    holder: { kind: 'text', minLength: MAX_HOLDER_LENGTH },
    token: { kind: 'int64' },
    version: { kind: 'int64' },
    renewed_at: { kind: 'float64' },
    wait_interval_ms: { kind: 'int64' },
  },
  uniqueKey: ['name'],
};

/** The lease table (and, on PostgreSQL, its key index), for `ensureSchema`. */
export function leaseSchema(dialect: Dialect, table: string): SchemaObject[] {
  const objects = createStatements(dialect, table);
  const [create = ''] = objects;
  const result: SchemaObject[] = [{ kind: 'table', name: table, columns: LEASE_COLUMNS, create, shape: LEASE_SHAPE }];
  if (objects[1] !== undefined) result.push({ kind: 'index', name: `${table}_name_token`, table, create: objects[1] });
  return result;
}

function createStatements(dialect: Dialect, table: string): string[] {
  switch (dialect) {
    case 'postgres':
      return [
        `CREATE TABLE IF NOT EXISTS ${table} (
  name VARCHAR(191) PRIMARY KEY,
  holder VARCHAR(255) NULL,
  token BIGINT NOT NULL DEFAULT 0,
  version BIGINT NOT NULL DEFAULT 0,
  renewed_at DOUBLE PRECISION NOT NULL DEFAULT 0,
  wait_interval_ms BIGINT NOT NULL DEFAULT 0
)`,
        // Makes `token` a KEY column: an UPDATE that changes it (takeover, forced promotion) needs
        // a lock that conflicts with the FOR KEY SHARE of assertHeld(), while a renewal (which
        // changes no key) does not — so fenced transactions cannot starve renewals.
        `CREATE UNIQUE INDEX IF NOT EXISTS ${table}_name_token ON ${table} (name, token)`,
      ];
    case 'mysql':
      return [
        // Binary NO PAD: under the database's default _ci collation the leases 'Ledger' and
        // 'ledger' were one row, under PAD SPACE utf8mb4_bin 'ledger' and 'ledger ' (exact-collation.ts).
        `CREATE TABLE IF NOT EXISTS ${table} (
  name VARCHAR(191) CHARACTER SET utf8mb4 COLLATE ${MYSQL_EXACT_COLLATION_MARKER} NOT NULL PRIMARY KEY,
  holder VARCHAR(255) NULL,
  token BIGINT NOT NULL DEFAULT 0,
  version BIGINT NOT NULL DEFAULT 0,
  renewed_at DOUBLE NOT NULL DEFAULT 0,
  wait_interval_ms BIGINT NOT NULL DEFAULT 0
) ENGINE=InnoDB`,
      ];
    case 'sqlite':
      return [
        `CREATE TABLE IF NOT EXISTS ${table} (
  name TEXT NOT NULL PRIMARY KEY,
  holder TEXT NULL,
  token INTEGER NOT NULL DEFAULT 0,
  version INTEGER NOT NULL DEFAULT 0,
  renewed_at REAL NOT NULL DEFAULT 0,
  wait_interval_ms INTEGER NOT NULL DEFAULT 0
)`,
      ];
  }
}

/**
 * The lease engine's SQL statements for one dialect and table, as {@link SqlLeaseStore.sql}
 * exposes them (for inspection and `hotcold lease init --print`; the engine runs them).
 */
export interface LeaseSql {
  /** Creates the row (free, token `generation × 2^32`) if absent. Params: name. */
  ensureRow: string;
  /** Params: name. Columns: holder, token, version, renewed_at, wait_interval_ms, now_ms, generation. */
  read: string;
  /** As `read`, locking the row for the rest of the caller's transaction. */
  readLocked: string;
  /**
   * Compare-and-set on `version`: takes the lease if free or expired by the DB clock and its token
   * is of the database's current failover generation, bumping the token. Params: holder,
   * waitIntervalMs, name, expectedVersion.
   */
  acquire: string;
  /**
   * Extends the lease only if we still hold it with our token, of the database's current failover
   * generation, AND it has not expired yet by the DB clock (a renewal that arrives late must not
   * resurrect anything). Params: waitIntervalMs, name, holder, token.
   */
  renew: string;
  /**
   * Marks a row whose token is of an older failover generation (see generation.ts): holder
   * `GENERATION_HOLDER`, token `generation × 2^32`, renewed now, `wait_interval_ms` the larger of
   * the row's and ours. Params: holder, waitIntervalMs, name, expectedVersion.
   */
  enterGeneration: string;
  /** Clears the holder, keeping the token (the next holder bumps it). Params: name, holder, token. */
  release: string;
  /** Clears the holder only if the lease expired by the DB clock. Params: name. */
  clearExpired: string;
  /**
   * Clears the holder and bumps the token at once (operator override): the old holder's next
   * renewal and every fenced write with its token fail. Params: step (>= 1), name, expectedVersion.
   */
  forceClear: string;
}

export function leaseSql(dialect: Dialect, table: string): LeaseSql {
  const now = nowMs(dialect);
  const base = generationBaseSql(dialect);
  const greatest = dialect === 'sqlite' ? 'MAX' : 'GREATEST';
  const cols = `holder, token, version, renewed_at, wait_interval_ms, ${now} AS now_ms, ${generationSql(dialect)} AS generation`;
  const ensureRow =
    dialect === 'postgres'
      ? `INSERT INTO ${table} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, NULL, ${base}, 0, 0, 0) ON CONFLICT (name) DO NOTHING`
      : dialect === 'mysql'
        ? `INSERT INTO ${table} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, NULL, ${base}, 0, 0, 0) ON DUPLICATE KEY UPDATE name = name`
        : `INSERT OR IGNORE INTO ${table} (name, holder, token, version, renewed_at, wait_interval_ms) VALUES (?, NULL, 0, 0, 0, 0)`;
  // PostgreSQL: FOR KEY SHARE blocks the token-changing UPDATEs (token is in a unique index) but
  // not renewals. InnoDB grants record locks in order, so a waiting renewal is not starved by new
  // share locks. SQLite has no row locks: the caller's BEGIN IMMEDIATE holds the write lock.
  // SQLite has no generation: there the condition would always hold.
  const currentGeneration = dialect === 'sqlite' ? '' : ` AND token >= ${base}`;
  const lockClause = dialect === 'postgres' ? ' FOR KEY SHARE' : dialect === 'mysql' ? ' LOCK IN SHARE MODE' : '';
  return {
    ensureRow,
    read: `SELECT ${cols} FROM ${table} WHERE name = ?`,
    readLocked: `SELECT ${cols} FROM ${table} WHERE name = ?${lockClause}`,
    acquire: `UPDATE ${table} SET holder = ?, token = token + 1, version = version + 1, renewed_at = ${now}, wait_interval_ms = ? WHERE name = ? AND version = ? AND (holder IS NULL OR ${now} >= renewed_at + wait_interval_ms)${currentGeneration}`,
    renew: `UPDATE ${table} SET renewed_at = ${now}, version = version + 1, wait_interval_ms = ? WHERE name = ? AND holder = ? AND token = ? AND ${now} < renewed_at + wait_interval_ms${currentGeneration}`,
    enterGeneration: `UPDATE ${table} SET holder = ?, token = ${base}, version = version + 1, renewed_at = ${now}, wait_interval_ms = ${greatest}(wait_interval_ms, ?) WHERE name = ? AND version = ? AND token < ${base}`,
    release: `UPDATE ${table} SET holder = NULL, version = version + 1 WHERE name = ? AND holder = ? AND token = ?`,
    clearExpired: `UPDATE ${table} SET holder = NULL, version = version + 1 WHERE name = ? AND holder IS NOT NULL AND ${now} >= renewed_at + wait_interval_ms`,
    forceClear: `UPDATE ${table} SET holder = NULL, token = ${dialect === 'sqlite' ? 'token' : `${greatest}(token, ${base})`} + ?, version = version + 1 WHERE name = ? AND version = ?`,
  };
}
