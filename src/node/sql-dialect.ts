import { StoreConfigurationError } from '../lease/errors.js';
import { MYSQL_EXACT_COLLATION_MARKER } from '../lease/exact-collation.js';
import { ensureSchema, type SchemaObject } from '../lease/schema.js';
import { nowMs } from '../lease/sql.js';
import { mariadbStatementTime, mariadbTimeoutSeconds, pgTimeoutMs } from '../lease/db-timeouts.js';
import type { Dialect, LeaseStore } from '../lease/types.js';
import { sleep } from '../shared/sleep.js';

/**
 * The few statements whose spelling differs between SQLite, PostgreSQL and MariaDB/MySQL. Every
 * other statement the node runs is plain SQL with `?` placeholders (the store rewrites them).
 */

/**
 * Column types: MySQL cannot index TEXT, so keys are VARCHAR; payloads may be large. `table` is
 * what follows a CREATE TABLE's closing parenthesis.
 *
 * MariaDB/MySQL: a column without a charset and collation takes the database's, whose defaults
 * (`utf8mb4_general_ci`, `latin1_swedish_ci`) compare case-, accent- and (PAD SPACE)
 * trailing-space-insensitively: two idempotency keys `Pay-AbC` and `pay-abc` were one key, and the
 * second payment was answered with the first's stored result without running. Keys take a NO PAD
 * binary collation (`utf8mb4_bin` is PAD SPACE: `'orders'` and `'orders '` were one key); payloads `utf8mb4` (a latin1 database stored `?` for text it cannot hold, or
 * refused it); InnoDB whatever the default engine (the records must roll back with the call).
 */
export function columnTypes(dialect: Dialect): { key: string; text: string; bigint: string; table: string } {
  switch (dialect) {
    case 'sqlite':
      return { key: 'TEXT', text: 'TEXT', bigint: 'INTEGER', table: '' };
    case 'postgres':
      return { key: 'VARCHAR(255)', text: 'TEXT', bigint: 'BIGINT', table: '' };
    case 'mysql':
      return { key: `VARCHAR(255) CHARACTER SET utf8mb4 COLLATE ${MYSQL_EXACT_COLLATION_MARKER}`, text: 'LONGTEXT CHARACTER SET utf8mb4', bigint: 'BIGINT', table: ' ENGINE=InnoDB' };
  }
}

/**
 * Milliseconds since the epoch on the database server's clock. Record ages are judged on this one
 * clock, never on two nodes' wall clocks.
 */
export function nowMsExpression(dialect: Dialect): string {
  // The lease's own clock expression (it avoids MySQL's time-zone-dependent UNIX_TIMESTAMP),
  // as a whole number for the BIGINT columns.
  return `CAST(${nowMs(dialect)} AS ${dialect === 'mysql' ? 'SIGNED' : dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'})`;
}

/**
 * `INSERT` that does nothing when the unique key already exists. On PostgreSQL and InnoDB a
 * concurrent insert of the same key blocks until the first transaction ends, which is what
 * makes a duplicate request wait for the original.
 */
export function insertIgnore(dialect: Dialect, table: string, columns: readonly string[], values?: readonly string[]): string {
  const cols = columns.join(', ');
  const vals = (values ?? columns.map(() => '?')).join(', ');
  switch (dialect) {
    case 'sqlite':
      return `INSERT OR IGNORE INTO ${table} (${cols}) VALUES (${vals})`;
    case 'postgres':
      return `INSERT INTO ${table} (${cols}) VALUES (${vals}) ON CONFLICT DO NOTHING`;
    case 'mysql':
      return `INSERT IGNORE INTO ${table} (${cols}) VALUES (${vals})`;
  }
}

/**
 * `INSERT (key, column) VALUES (?, ?)`, or on conflict `column = column + <the inserted value>`.
 * The row stays locked (or the database write-locked) until commit: that serialises
 * concurrent increments of one key.
 */
export function upsertAdd(dialect: Dialect, table: string, keyColumn: string, column: string): string {
  switch (dialect) {
    case 'sqlite':
    case 'postgres':
      return `INSERT INTO ${table} (${keyColumn}, ${column}) VALUES (?, ?) ON CONFLICT (${keyColumn}) DO UPDATE SET ${column} = ${table}.${column} + excluded.${column}`;
    case 'mysql':
      return `INSERT INTO ${table} (${keyColumn}, ${column}) VALUES (?, ?) ON DUPLICATE KEY UPDATE ${column} = ${column} + VALUES(${column})`;
  }
}

/**
 * Suffix for a locking read. A locking read sees the latest committed row (InnoDB's plain read
 * would see the transaction's older snapshot); SQLite has no row locks and needs none, since
 * its writers are serialised.
 */
export function forUpdate(dialect: Dialect): string {
  return dialect === 'sqlite' ? '' : ' FOR UPDATE';
}

/**
 * Suffix for a shared-lock read of a row that another transaction may have just committed. Two
 * duplicates that both waited on a unique key already hold InnoDB shared locks on it: asking
 * for an exclusive lock there would deadlock them against each other.
 */
export function forShare(dialect: Dialect): string {
  return dialect === 'postgres' ? ' FOR SHARE' : dialect === 'mysql' ? ' LOCK IN SHARE MODE' : '';
}

/** A deadlock or serialization failure: the database rolled the transaction back, nothing ran. */
export function isRetryableConflict(error: unknown): boolean {
  const e = error as { code?: unknown; errno?: unknown };
  return e.code === '40001' || e.code === '40P01' || e.code === 'ER_LOCK_DEADLOCK' || e.errno === 1213;
}

/** One SET a node transaction runs first; `optional` ones may be missing on MySQL proper. */
export interface BoundStatement {
  sql: string;
  optional: boolean;
}

/**
 * The server-side bounds every node transaction sets at its start, so that the DATABASE ends a
 * statement that waits or runs too long, and a transaction whose client went silent — even when
 * the node is killed or frozen and cannot roll back itself. Without them a dead node's session
 * keeps waiting on an application row lock while holding its fence's share lock on the lease
 * row, and the standby's takeover waits for as long as that foreign lock is held.
 *
 * PostgreSQL (per transaction, ms, one round trip): `lock_timeout` and `statement_timeout`
 * (a failed statement aborts the transaction, which releases its locks at once) and
 * `idle_in_transaction_session_timeout` (ends the session of a silent client).
 * MariaDB (per session, so it also holds for the rest of this transaction): `max_statement_time`
 * (fractional seconds; it interrupts InnoDB lock waits too), `innodb_lock_wait_timeout` and
 * `lock_wait_timeout` (whole seconds, rounded up, as a backstop for row and metadata locks) — an
 * interrupted statement keeps the transaction's locks, so `idle_transaction_timeout` (whole
 * seconds) is what ends a frozen client's transaction. MySQL proper lacks `max_statement_time`
 * and `idle_transaction_timeout`: those are optional. SQLite: none (busy handling is the store's).
 * Values are clamped to what each database accepts (src/lease/db-timeouts.ts).
 */
export function transactionBounds(dialect: Dialect, bounds: { statementMs: number | false; idleMs: number | false }): BoundStatement[] {
  const { statementMs, idleMs } = bounds;
  switch (dialect) {
    case 'postgres': {
      const ms = (v: number): string => `'${pgTimeoutMs(v)}'`;
      const sets: string[] = [];
      if (statementMs !== false) sets.push(`set_config('lock_timeout', ${ms(statementMs)}, true)`, `set_config('statement_timeout', ${ms(statementMs)}, true)`);
      if (idleMs !== false) sets.push(`set_config('idle_in_transaction_session_timeout', ${ms(idleMs)}, true)`);
      return sets.length === 0 ? [] : [{ sql: `SELECT ${sets.join(', ')}`, optional: false }];
    }
    case 'mysql': {
      const out: BoundStatement[] = [];
      if (statementMs !== false) {
        out.push({ sql: `SESSION innodb_lock_wait_timeout = ${mariadbTimeoutSeconds(statementMs)}, SESSION lock_wait_timeout = ${mariadbTimeoutSeconds(statementMs)}`, optional: false });
        out.push({ sql: `SESSION max_statement_time = ${mariadbStatementTime(statementMs)}`, optional: true });
      }
      if (idleMs !== false) out.push({ sql: `SESSION idle_transaction_timeout = ${mariadbTimeoutSeconds(idleMs)}`, optional: true });
      return out.map((b) => ({ ...b, sql: `SET ${b.sql}` }));
    }
    case 'sqlite':
      return [];
  }
}

/** MariaDB/MySQL: several SETs as one statement (one round trip). */
export function combineSets(statements: readonly BoundStatement[]): string {
  return `SET ${statements.map((s) => s.sql.replace(/^SET /, '')).join(', ')}`;
}

/** Drivers return BIGINT as string (pg) or bigint; the node's numbers fit in a double. */
export function toNumber(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number(value);
  return Number.NaN;
}

/** TEXT may come back as a Buffer from some drivers/column types. */
export function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return String(value);
}

/** Attempts of {@link ensureSchemaRetrying}, and the pause between them (ms). */
const SCHEMA_ATTEMPTS = 5;
const SCHEMA_RETRY_PAUSE_MS = 500;

/**
 * `ensureSchema`, retrying a transient fault (a DDL lock bound hit, a busy start-up lock, a lost
 * connection) a few times, at most about SCHEMA_ATTEMPTS × (bounds + pause); a permanent one
 * (`StoreConfigurationError`) throws at once.
 */
export async function ensureSchemaRetrying(
  store: LeaseStore,
  objects: readonly SchemaObject[],
  lockKey: string,
  onRetry: (error: unknown) => void,
): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    try {
      await ensureSchema(store, objects, lockKey);
      return;
    } catch (error) {
      if (error instanceof StoreConfigurationError || attempt >= SCHEMA_ATTEMPTS) throw error;
      onRetry(error);
      await sleep(SCHEMA_RETRY_PAUSE_MS);
    }
  }
}

/** Key columns: what our DDL creates (VARCHAR(255)) or wider. */
export const KEY_COLUMN = { kind: 'text', minLength: 255 } as const;
/** Key columns a unique key compares: also byte for byte (a binary collation on MariaDB/MySQL). */
export const EXACT_KEY_COLUMN = { kind: 'text', minLength: 255, exact: true } as const;
/** Payload columns: unbounded text, as our DDL creates (MariaDB LONGTEXT, 4 GiB). */
export const PAYLOAD_COLUMN = { kind: 'text', minLength: 4_294_967_295 } as const;
