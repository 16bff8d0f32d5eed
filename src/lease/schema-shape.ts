import { holdsEveryKey, isExactCollation } from './exact-collation.js';
import type { Dialect } from './types.js';

/**
 * Whether an existing table has the SHAPE the statements need, not only the column names: a
 * `renewed_at` of 4-byte float rounds the millisecond stamp by up to a minute (two holders at
 * once), a `SMALLINT` interval overflows, a `holder` too short for our holder ids fails every
 * takeover, a `name` that is not unique gives one lease several rows. What counts is range and
 * precision, so an equivalent type (unconstrained `numeric`, `text` for `varchar`) is accepted.
 */

/** What one column must hold. */
export type ColumnNeed =
  /** Integers up to 2^63 − 1, exactly (tokens, versions, intervals). */
  | { readonly kind: 'int64' }
  /** Millisecond epoch stamps with sub-millisecond fractions: an IEEE double or better. */
  | { readonly kind: 'float64' }
  /**
   * Text of at least `minLength` characters, returned as written (no padding). `exact`: a key
   * compared byte for byte — on MariaDB/MySQL a NO PAD binary collation (exact-collation.ts):
   * under the default `_ci` ones `'Pay-AbC'` and `'pay-abc'` (and `'é'` and `'e'`) are one key,
   * under PAD SPACE `utf8mb4_bin` `'orders'` and `'orders '`.
   */
  | { readonly kind: 'text'; readonly minLength: number; readonly exact?: boolean };

export interface TableShape {
  readonly columns: Readonly<Record<string, ColumnNeed>>;
  /** Columns that together must carry a unique, non-partial index of exactly these columns. */
  readonly uniqueKey: readonly string[];
}

/** A column as the catalog describes it. */
export interface CatalogColumn {
  readonly name: string;
  /** PostgreSQL: format_type(); MariaDB: DATA_TYPE; SQLite: the declared type. */
  readonly type: string;
  /** MariaDB: CHARACTER_MAXIMUM_LENGTH. */
  readonly length?: number | null;
  /** MariaDB: COLLATION_NAME (null for a non-text column). */
  readonly collation?: string | null;
}

function describeNeed(dialect: Dialect, need: ColumnNeed): string {
  const ours = {
    postgres: { int64: 'bigint', float64: 'double precision', text: 'varchar(n)/text' },
    mysql: { int64: 'BIGINT', float64: 'DOUBLE', text: 'VARCHAR(n)/TEXT' },
    sqlite: { int64: 'INTEGER', float64: 'REAL', text: 'TEXT' },
  }[dialect][need.kind];
  return need.kind === 'text' ? `${ours} of at least ${need.minLength} characters` : ours;
}

/** SQLite's type affinity of a declared type (https://www.sqlite.org/datatype3.html §3.1). */
function sqliteAffinity(declared: string): 'integer' | 'text' | 'blob' | 'real' | 'numeric' {
  const t = declared.toUpperCase();
  if (t.includes('INT')) return 'integer';
  if (t.includes('CHAR') || t.includes('CLOB') || t.includes('TEXT')) return 'text';
  if (t.includes('BLOB') || t === '') return 'blob';
  if (t.includes('REAL') || t.includes('FLOA') || t.includes('DOUB')) return 'real';
  return 'numeric';
}

/** Whether `column` holds what `need` says; undefined when it does, else why not. */
function mismatch(dialect: Dialect, column: CatalogColumn, need: ColumnNeed): string | undefined {
  const type = column.type.toLowerCase().trim();
  let ok: boolean;
  switch (dialect) {
    case 'postgres': {
      const varchar = /^character varying\((\d+)\)$/.exec(type);
      const numeric = /^numeric\((\d+),(\d+)\)$/.exec(type);
      if (need.kind === 'int64') ok = type === 'bigint' || type === 'numeric' || (numeric !== null && Number(numeric[1]) - Number(numeric[2]) >= 19 && numeric[2] === '0');
      else if (need.kind === 'float64') ok = type === 'double precision' || type === 'numeric';
      else ok = type === 'text' || type === 'character varying' || (varchar !== null && Number(varchar[1]) >= need.minLength);
      break;
    }
    case 'mysql':
      if (need.kind === 'int64') ok = type === 'bigint';
      else if (need.kind === 'float64') ok = type === 'double';
      else {
        ok = ['varchar', 'text', 'mediumtext', 'longtext', 'tinytext'].includes(type) && Number(column.length ?? 0) >= need.minLength;
        const collation = (column.collation ?? '').toLowerCase();
        if (ok && need.exact === true && !holdsEveryKey(collation)) {
          return `column ${column.name} (collation ${column.collation ?? 'unknown'}) cannot hold every key: a character its character set lacks is stored as ? (or refused), so keys that differ only there are one key; it needs utf8mb4 with a NO PAD binary collation (ALTER TABLE … MODIFY ${column.name} VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL on MariaDB, COLLATE utf8mb4_0900_bin on MySQL 8)`;
        }
        if (ok && need.exact === true && !isExactCollation(collation)) {
          return `column ${column.name} (collation ${column.collation ?? 'unknown'}) treats keys that differ in case, accents or trailing spaces as one key; it needs a NO PAD binary collation (ALTER TABLE … MODIFY ${column.name} VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin NOT NULL on MariaDB, COLLATE utf8mb4_0900_bin on MySQL 8)`;
        }
      }
      break;
    case 'sqlite': {
      // SQLite stores what it is given within the affinity; the limits are per value, not per column.
      const affinity = sqliteAffinity(type);
      if (need.kind === 'text') ok = affinity === 'text' || affinity === 'blob';
      else ok = affinity === 'integer' || affinity === 'numeric' || (need.kind === 'float64' && affinity === 'real');
      break;
    }
  }
  // "(type …)": a column named token must not read as a credential to the log redactor.
  return ok ? undefined : `column ${column.name} (type ${column.type || 'none'}${column.length ? `(${column.length})` : ''}) needs ${describeNeed(dialect, need)}`;
}

/**
 * The problems of a table's shape (empty when it fits).
 * @param uniqueIndexes the column sets of the table's unique, non-partial, non-prefix indexes
 *   (the primary key among them).
 */
export function shapeProblems(
  dialect: Dialect,
  shape: TableShape,
  columns: readonly CatalogColumn[],
  uniqueIndexes: readonly (readonly string[])[],
): string[] {
  const problems: string[] = [];
  const byName = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  for (const [name, need] of Object.entries(shape.columns)) {
    const column = byName.get(name.toLowerCase());
    if (column === undefined) continue; // reported as missing by the caller
    const why = mismatch(dialect, column, need);
    if (why !== undefined) problems.push(why);
  }
  const key = new Set(shape.uniqueKey.map((c) => c.toLowerCase()));
  const keyed = uniqueIndexes.some((cols) => cols.length === key.size && cols.every((c) => key.has(c.toLowerCase())));
  if (key.size > 0 && !keyed) problems.push(`(${shape.uniqueKey.join(', ')}) is not a primary key or unique index of exactly those columns`);
  return problems;
}

/** Catalog reads for the shape: columns (c, t, len) and unique index columns (id, c). */
export function shapeCatalogSql(dialect: Dialect, table: string): { columns: string; unique: string; params: readonly unknown[] } {
  switch (dialect) {
    case 'postgres':
      return {
        columns:
          'SELECT a.attname AS c, format_type(a.atttypid, a.atttypmod) AS t, NULL AS len FROM pg_catalog.pg_attribute a WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped',
        // Key columns only (not INCLUDE ones), no partial or expression index: what ON CONFLICT can infer.
        unique:
          'SELECT i.indexrelid::text AS id, a.attname AS c FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY ((i.indkey::int2[])[0:i.indnkeyatts - 1]) WHERE i.indrelid = to_regclass(?) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL',
        params: [table],
      };
    case 'mysql':
      return {
        columns:
          'SELECT COLUMN_NAME AS c, DATA_TYPE AS t, CHARACTER_MAXIMUM_LENGTH AS len, COLLATION_NAME AS coll FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?',
        unique:
          'SELECT INDEX_NAME AS id, COLUMN_NAME AS c FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND NON_UNIQUE = 0 AND SUB_PART IS NULL',
        params: [table],
      };
    case 'sqlite':
      // The name goes into the text (a validated identifier): the SQLite store routes a statement
      // naming the lease table to the lease file.
      return {
        columns: `SELECT name AS c, type AS t, NULL AS len FROM pragma_table_info('${table}')`,
        unique: `SELECT 'pk' AS id, name AS c FROM pragma_table_info('${table}') WHERE pk > 0 UNION ALL SELECT il.name AS id, ii.name AS c FROM pragma_index_list('${table}') il, pragma_index_info(il.name) ii WHERE il."unique" = 1 AND il.partial = 0`,
        params: [],
      };
  }
}

/** Groups (id, c) rows into column sets. */
export function indexColumnSets(rows: readonly Record<string, unknown>[]): string[][] {
  const sets = new Map<string, string[]>();
  for (const row of rows) {
    const id = String(row.id);
    const list = sets.get(id) ?? [];
    list.push(String(row.c));
    sets.set(id, list);
  }
  return [...sets.values()];
}
