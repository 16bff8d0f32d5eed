import type { SchemaObject } from '../lease/schema.js';
import type { Dialect, SqlExecutor } from '../lease/types.js';
import { EXACT_KEY_COLUMN, PAYLOAD_COLUMN, columnTypes, forUpdate, toNumber, toText, upsertAdd } from './sql-dialect.js';

/**
 * Resumable feeds: an append-only table of `(feed, seq, data)` and a per-feed counter row.
 *
 * Why a counter row: the sequence is taken by incrementing the feed's counter inside the
 * appending transaction, which locks that row until commit. A second appender of the same feed
 * waits, and only gets `seq + 1` after the first committed (or reuses `seq` if the first rolled
 * back). So the committed order is the sequence order, with no holes: a reader that has seen
 * `seq = n` can never later find an uncommitted `m < n` appear. That is what lets a consumer
 * resume from "the last seq I delivered" with no gap and no duplicate.
 */

export function feedDdl(dialect: Dialect, table: string, counterTable: string): string[] {
  return feedSchema(dialect, table, counterTable).map((object) => object.create);
}

/** The feed and counter tables, for `ensureSchema` (which skips what exists). */
export function feedSchema(dialect: Dialect, table: string, counterTable: string): SchemaObject[] {
  const t = columnTypes(dialect);
  return [
    {
      kind: 'table',
      name: counterTable,
      columns: ['feed', 'last_seq'],
      shape: { columns: { feed: EXACT_KEY_COLUMN, last_seq: { kind: 'int64' } }, uniqueKey: ['feed'] },
      create: `CREATE TABLE IF NOT EXISTS ${counterTable} (
  feed ${t.key} NOT NULL PRIMARY KEY,
  last_seq ${t.bigint} NOT NULL
)${t.table}`,
    },
    {
      kind: 'table',
      name: table,
      columns: ['feed', 'seq', 'data'],
      shape: { columns: { feed: EXACT_KEY_COLUMN, seq: { kind: 'int64' }, data: PAYLOAD_COLUMN }, uniqueKey: ['feed', 'seq'] },
      create: `CREATE TABLE IF NOT EXISTS ${table} (
  feed ${t.key} NOT NULL,
  seq ${t.bigint} NOT NULL,
  data ${t.text} NOT NULL,
  PRIMARY KEY (feed, seq)
)${t.table}`,
    },
  ];
}

/** One item of a feed as `hotcold.feed` answers it. */
export interface FeedItem<T = unknown> {
  /** Position in the feed, increasing in commit order. */
  seq: number;
  /** The payload the handler passed to `ctx.appendFeed`. */
  data: T;
}

export class FeedStore {
  constructor(
    readonly dialect: Dialect,
    readonly table: string,
    readonly counterTable: string,
  ) {}

  /** Appends in `tx`; the returned seq becomes visible when (and only if) `tx` commits. */
  async append(tx: SqlExecutor, feed: string, data: unknown): Promise<number> {
    await tx.execute(upsertAdd(this.dialect, this.counterTable, 'feed', 'last_seq'), [feed, 1]);
    const rows = await tx.query(`SELECT last_seq FROM ${this.counterTable} WHERE feed = ?${forUpdate(this.dialect)}`, [feed]);
    const seq = toNumber(rows[0]?.last_seq);
    if (!Number.isSafeInteger(seq) || seq <= 0) throw new Error(`feed counter for '${feed}' is unreadable`);
    await tx.execute(`INSERT INTO ${this.table} (feed, seq, data) VALUES (?, ?, ?)`, [feed, seq, JSON.stringify(data ?? null)]);
    return seq;
  }

  /** Items with `seq > after`, in order, at most `max`. */
  async read(tx: SqlExecutor, feed: string, after: number, max: number): Promise<FeedItem[]> {
    const rows = await tx.query(
      `SELECT seq, data FROM ${this.table} WHERE feed = ? AND seq > ? ORDER BY seq LIMIT ${Math.floor(max)}`,
      [feed, after],
    );
    return rows.map((row) => ({ seq: toNumber(row.seq), data: JSON.parse(toText(row.data)) as unknown }));
  }
}
