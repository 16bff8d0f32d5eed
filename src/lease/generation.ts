/**
 * Failover generations: fencing tokens that never repeat across a promotion of the database.
 *
 * A replicated database promoted after its primary died may lack the primary's last commits
 * (asynchronous replication): a token issued there, and the renewals of its holder, are gone. Its
 * counter alone would issue that token again. So every token carries the database's FAILOVER
 * GENERATION in its high bits: `token = generation × 2^32 + n`, n ≥ 1. A promoted database is of a
 * higher generation than everything before it, so anything it issues is greater than anything
 * issued before the promotion. Tokens stay JavaScript-safe integers: generations up to 2^21 − 1,
 * 2^32 − 1 holders per generation.
 *
 * Where the generation comes from:
 * - PostgreSQL: the timeline ID − 1. Every promotion (`pg_ctl promote`, `pg_promote()`, a
 *   failover manager) starts a new, higher timeline. It is read as the timeline WAL is being
 *   inserted on — the first 8 hex digits of `pg_walfile_name(pg_current_wal_lsn())` — inside the
 *   very statement that uses it. NOT `pg_control_checkpoint().timeline_id`: that is the timeline
 *   of the last checkpoint, and after a fast promotion it names the OLD timeline until the
 *   end-of-recovery checkpoint completes (seconds later on a busy server; measured in
 *   test/lease/replication). On a standby (in recovery) the statements fail: leases live on the primary.
 * - MariaDB: `@@GLOBAL.gtid_domain_id`. MariaDB keeps no promotion counter of its own, so the
 *   failover procedure must raise it on the promoted server (`SET GLOBAL gtid_domain_id = N + 1`,
 *   which also keeps the GTIDs of the new primary apart from the old one's). Without that the
 *   generation does not change and a promotion is as unsafe as without generations.
 * - MySQL: 0 (no such variable); SQLite: 0 (not replicated). See docs/lease.md "Replicated databases".
 *
 * The protocol (sql.ts holds the statements, lease.ts the engine):
 * 1. acquire and renew succeed only while the row's token is of the database's current generation;
 *    assertHeld fails otherwise. So every tenure of an older generation ends at the promotion:
 *    its renewals and fenced writes fail on the new primary.
 * 2. The first engine to read a row of an older generation MARKS it: holder `GENERATION_HOLDER`,
 *    token `generation × 2^32` (never issued to anyone), `renewed_at` now (the new primary's
 *    clock), `wait_interval_ms` the larger of the row's and its own. The row then reads as held by
 *    an unknown holder, and nobody acquires before it expires: by then every holder of the old
 *    generation has passed its self-fencing deadline, since its last successful renewal was sent
 *    before the old primary stopped, hence before the mark (the argument of self-fencing.ts, with
 *    the mark in place of that renewal's stamp).
 * 3. The next acquisition issues `generation × 2^32 + 1`.
 */
import type { Dialect } from './types.js';

/** Tokens per generation. */
export const GENERATION_SPAN = 2 ** 32;

/** The holder a generation change writes into the row while old holders fence themselves. */
export const GENERATION_HOLDER = '(database failover: waiting out the previous generation)';

/** The failover generation a token was issued in. */
export function tokenGeneration(token: number): number {
  return Math.floor(token / GENERATION_SPAN);
}

/**
 * Where the `mysql` dialect's statements read the generation: `0` as written (MySQL has no
 * promotion counter), which the store rewrites to `@@GLOBAL.gtid_domain_id` on MariaDB
 * ({@link mariadbGenerationSql}).
 */
export const MYSQL_GENERATION_MARKER = '/*hotcold:generation*/0';

/** A `mysql`-dialect statement as it runs on MariaDB: the generation is the server's GTID domain. */
export function mariadbGenerationSql(sql: string): string {
  return sql.includes(MYSQL_GENERATION_MARKER) ? sql.split(MYSQL_GENERATION_MARKER).join('@@GLOBAL.gtid_domain_id') : sql;
}

/** The database's failover generation, evaluated inside a statement (a bigint expression). */
export function generationSql(dialect: Dialect): string {
  switch (dialect) {
    case 'postgres':
      return "((('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::bigint) - 1)";
    case 'mysql':
      return MYSQL_GENERATION_MARKER;
    case 'sqlite':
      return '0';
  }
}

/** The smallest token of the database's current generation (the mark's), as SQL. */
export function generationBaseSql(dialect: Dialect): string {
  return dialect === 'sqlite' ? '0' : `(${generationSql(dialect)} * ${GENERATION_SPAN})`;
}
