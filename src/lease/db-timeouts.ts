import { MAX_TIMER_DELAY_MS } from '../shared/timer.js';

/**
 * Every timeout this library hands to a database or to a driver goes through here, so that any
 * option value the library accepts (a `waitInterval` of weeks, say) still yields a setting the
 * database takes. Out of range, PostgreSQL refuses the `SET` (the transaction fails — every call
 * would), MariaDB refuses or truncates it, and the pg/mysql2 drivers arm a raw `setTimeout`,
 * which fires after 1 ms for anything above 2^31−1 ms.
 */

/** PostgreSQL's integer GUCs in ms (`lock_timeout`, `statement_timeout`, `idle_in_transaction_session_timeout`) take at most INT_MAX. */
export const PG_MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * MariaDB's `max_statement_time`, `lock_wait_timeout` and `idle_transaction_timeout` take at most
 * 31 536 000 s (one year); `innodb_lock_wait_timeout` takes more (1 073 741 824 s), so one year
 * suits all of them.
 */
export const MARIADB_MAX_TIMEOUT_S = 31_536_000;

function capped(ms: number, max: number): number {
  return Number.isNaN(ms) ? 1 : Math.min(ms, max);
}

/** A PostgreSQL ms timeout: a whole number in 1 … 2147483647 (0 would mean "no bound"). */
export function pgTimeoutMs(ms: number): number {
  return Math.max(1, Math.floor(capped(ms, PG_MAX_TIMEOUT_MS)));
}

/** A MariaDB whole-seconds timeout (`innodb_lock_wait_timeout`, `lock_wait_timeout`, `idle_transaction_timeout`): 1 … one year, rounded up. */
export function mariadbTimeoutSeconds(ms: number): number {
  return Math.max(1, Math.min(MARIADB_MAX_TIMEOUT_S, Math.ceil(capped(ms, MARIADB_MAX_TIMEOUT_S * 1000) / 1000)));
}

/** MariaDB `max_statement_time` (seconds, decimal): 0.001 … one year, as a literal. */
export function mariadbStatementTime(ms: number): string {
  return (Math.max(1, capped(ms, MARIADB_MAX_TIMEOUT_S * 1000)) / 1000).toFixed(3);
}

/**
 * A client-side timeout for the pg/mysql2 drivers (`query_timeout`, mysql2 `timeout`,
 * `connectionTimeoutMillis`): they arm it with a raw `setTimeout`, so above 2^31−1 ms it must be
 * capped (a statement bounded by ~24.8 days is, in practice, unbounded anyway).
 */
export function driverTimeoutMs(ms: number): number {
  return Math.max(1, Math.floor(capped(ms, MAX_TIMER_DELAY_MS)));
}
