import { createHash } from 'node:crypto';
import type { SchemaObject } from '../lease/schema.js';
import type { Dialect, SqlExecutor } from '../lease/types.js';
import { EXACT_KEY_COLUMN, KEY_COLUMN, PAYLOAD_COLUMN, columnTypes, forShare, insertIgnore, nowMsExpression, toNumber, toText } from './sql-dialect.js';

/**
 * The idempotency records, kept in the shared database so that a key executed on one node is
 * known to the other after failover. A record is inserted ("claimed") at the start of the
 * request's transaction and completed with the result before commit: it only ever becomes
 * visible together with the handler's writes, so "executed" and "recorded" cannot disagree.
 */

export function dedupDdl(dialect: Dialect, table: string): string[] {
  return dedupSchema(dialect, table).map((object) => object.create);
}

/** The idempotency table and its age index, for `ensureSchema` (which skips what exists). */
export function dedupSchema(dialect: Dialect, table: string): SchemaObject[] {
  const t = columnTypes(dialect);
  return [
    {
      kind: 'table',
      name: table,
      columns: ['idem_key', 'caller', 'method', 'fingerprint', 'result', 'token', 'created_at'],
      shape: {
        columns: {
          idem_key: EXACT_KEY_COLUMN,
          caller: KEY_COLUMN,
          method: KEY_COLUMN,
          fingerprint: KEY_COLUMN,
          result: PAYLOAD_COLUMN,
          token: { kind: 'int64' },
          created_at: { kind: 'int64' },
        },
        uniqueKey: ['idem_key'],
      },
      create: `CREATE TABLE IF NOT EXISTS ${table} (
  idem_key ${t.key} NOT NULL PRIMARY KEY,
  caller ${t.key} NOT NULL,
  method ${t.key} NOT NULL,
  fingerprint ${t.key} NOT NULL,
  result ${t.text},
  token ${t.bigint} NOT NULL,
  created_at ${t.bigint} NOT NULL
)${t.table}`,
    },
    {
      kind: 'index',
      name: `${table}_created`,
      table,
      // MySQL has no CREATE INDEX IF NOT EXISTS; ensureSchema runs it only when the index is missing.
      create:
        dialect === 'mysql'
          ? `CREATE INDEX ${table}_created ON ${table} (created_at)`
          : `CREATE INDEX IF NOT EXISTS ${table}_created ON ${table} (created_at)`,
    },
  ];
}

/** Canonical JSON (sorted keys), so that `{a,b}` and `{b,a}` are the same params. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v)).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/**
 * The request fingerprint stored with an idempotency record: SHA-256 (hex) of the method and the
 * params' canonical JSON ({@link canonicalJson}). A key reused with another fingerprint is
 * answered `HOTCOLD_KEY_CONFLICT` instead of the stored result.
 */
export function fingerprint(method: string, params: unknown): string {
  return createHash('sha256').update(method).update('\n').update(canonicalJson(params)).digest('hex');
}

/** Caller identities longer than a key column are stored as their hash. */
export function callerColumn(caller: string): string {
  return caller.length <= 200 ? caller : `sha256:${createHash('sha256').update(caller).digest('hex')}`;
}

export type ClaimOutcome =
  | { kind: 'claimed' }
  | { kind: 'done'; result: unknown }
  | { kind: 'conflict'; reason: 'params' | 'caller' };

export interface DedupRequest {
  key: string;
  caller: string;
  method: string;
  params: unknown;
  token: number;
}

export class DedupStore {
  constructor(
    readonly dialect: Dialect,
    readonly table: string,
  ) {}

  /** Inserts the claim row unless the key exists; `changes` is 1 when this call claimed it. */
  private insertClaim(tx: SqlExecutor, request: DedupRequest, caller: string, print: string): Promise<{ changes: number }> {
    const columns = ['idem_key', 'caller', 'method', 'fingerprint', 'token', 'created_at'];
    const values = ['?', '?', '?', '?', '?', nowMsExpression(this.dialect)];
    return tx.execute(insertIgnore(this.dialect, this.table, columns, values), [request.key, caller, request.method, print, request.token]);
  }

  /**
   * Claims `key` inside `tx`. If another transaction holds an uncommitted claim on the same key,
   * the insert blocks until it ends (PostgreSQL, InnoDB) or the whole transaction waited for
   * the database lock already (SQLite); so a duplicate sees the first one's committed result.
   */
  async claim(tx: SqlExecutor, request: DedupRequest): Promise<ClaimOutcome> {
    const print = fingerprint(request.method, request.params);
    const caller = callerColumn(request.caller);
    const inserted = await this.insertClaim(tx, request, caller, print);
    if (inserted.changes === 1) return { kind: 'claimed' };
    const rows = await tx.query(
      `SELECT caller, method, fingerprint, result FROM ${this.table} WHERE idem_key = ?${forShare(this.dialect)}`,
      [request.key],
    );
    const row = rows[0];
    if (!row) {
      // The conflicting claim was rolled back between our insert and read: claim it now.
      const again = await this.insertClaim(tx, request, caller, print);
      if (again.changes === 1) return { kind: 'claimed' };
      throw new Error('idempotency record vanished and reappeared during one claim');
    }
    if (toText(row.caller) !== caller) return { kind: 'conflict', reason: 'caller' };
    if (toText(row.method) !== request.method || toText(row.fingerprint) !== print) return { kind: 'conflict', reason: 'params' };
    const stored = row.result === null || row.result === undefined ? 'null' : toText(row.result);
    return { kind: 'done', result: JSON.parse(stored) as unknown };
  }

  /** Stores the result of a claimed key, in the same transaction as the handler's writes. */
  async complete(tx: SqlExecutor, key: string, result: unknown): Promise<void> {
    await tx.execute(`UPDATE ${this.table} SET result = ? WHERE idem_key = ?`, [JSON.stringify(result ?? null), key]);
  }

  /** Deletes records older than `ttlMs` (database clock). Returns how many went. */
  async cleanup(tx: SqlExecutor, ttlMs: number): Promise<number> {
    const done = await tx.execute(`DELETE FROM ${this.table} WHERE created_at < ${nowMsExpression(this.dialect)} - ?`, [ttlMs]);
    return done.changes;
  }

  async count(tx: SqlExecutor): Promise<number> {
    const rows = await tx.query(`SELECT COUNT(*) AS n FROM ${this.table}`);
    return toNumber(rows[0]?.n);
  }
}
