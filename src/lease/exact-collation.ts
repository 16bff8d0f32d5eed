/**
 * Key columns on MariaDB/MySQL must compare byte for byte. A `_bin` collation is not enough: the
 * classic ones (`utf8mb4_bin`) are PAD SPACE, so `'orders'` and `'orders '` are one value and a
 * unique key takes the second idempotency key for the first — that call answers with another
 * call's stored result and never runs. Only NO PAD binary collations keep trailing spaces, and
 * their names differ by server: MariaDB (≥ 10.2) `utf8mb4_nopad_bin`, MySQL (≥ 8.0)
 * `utf8mb4_0900_bin`. The `mysql` dialect's DDL writes {@link MYSQL_EXACT_COLLATION_MARKER}, which
 * runs as written on MariaDB and tells a reader of the printed DDL (`hotcold lease ddl`) what MySQL
 * needs; the store itself runs it with the collation of the server it talks to
 * ({@link exactCollationSql}).
 *
 * Sources: MariaDB "Supported Character Sets and Collations" (NO PAD collations, 10.2.2); MySQL
 * 8.0 Reference Manual §10.8.5 "Trailing Space Handling in Comparisons".
 */

/** MariaDB's NO PAD binary collation, with MySQL's named in a comment (ignored by the server). */
export const MYSQL_EXACT_COLLATION_MARKER = 'utf8mb4_nopad_bin /* MySQL 8: utf8mb4_0900_bin */';

/** The NO PAD binary utf8mb4 collation of a MariaDB or a MySQL server. */
export function exactCollation(mariadb: boolean): string {
  return mariadb ? 'utf8mb4_nopad_bin' : 'utf8mb4_0900_bin';
}

/** A `mysql`-dialect statement with the exact key collation of this server. */
export function exactCollationSql(sql: string, mariadb: boolean): string {
  return sql.includes(MYSQL_EXACT_COLLATION_MARKER) ? sql.split(MYSQL_EXACT_COLLATION_MARKER).join(exactCollation(mariadb)) : sql;
}

/**
 * Whether a column's collation (as `information_schema` names it) compares byte for byte,
 * trailing spaces included: `binary`, or a `_bin` collation that is NO PAD (MariaDB's `_nopad_`,
 * MySQL's UCA 9.0.0 `_0900_` family, all NO PAD) — of `utf8mb4`, which holds every key
 * (see {@link holdsEveryKey}).
 */
export function isExactCollation(collation: string): boolean {
  const c = collation.toLowerCase();
  return c === 'binary' || (holdsEveryKey(c) && c.endsWith('_bin') && (c.includes('_nopad_') || c.includes('_0900_')));
}

/**
 * Whether a collation's character set holds every key as written: `utf8mb4` (or `binary`). Any
 * other (`utf8mb3`, `latin1`, `ascii` …) stores a character it lacks as `?` when the session is
 * not strict (MariaDB: `'pay-😀'` and `'pay-😁'` both became `'pay-?'`, one key) and fails the
 * statement when it is.
 */
export function holdsEveryKey(collation: string): boolean {
  const c = collation.toLowerCase();
  return c === 'binary' || c.startsWith('utf8mb4_');
}
