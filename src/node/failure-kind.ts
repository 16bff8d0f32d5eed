import { LeaseError } from '../lease/errors.js';

/**
 * Which failures are the infrastructure's (database, driver, connection, lease) rather than the
 * application's. A node answers an infrastructure failure before commit as `NOT_EXECUTED`, never as
 * a JSON-RPC error: a JSON-RPC error tells the client the call ran, and a retry on the same or the
 * other node is exactly what it needs (DESIGN §1, §2).
 *
 * A new typed store error falls in by extending `LeaseError` (src/lease/errors.ts); errors of the
 * drivers are recognised by their codes below.
 */

/** SQLSTATE classes: 08 connection, 40 rollback (deadlock, serialization), 53 resources, 57 operator intervention (shutdown, statement/lock timeout cancel), 58 system. */
const PG_CLASSES: ReadonlySet<string> = new Set(['08', '40', '53', '57', '58']);
/** Single SQLSTATEs: lock_not_available, idle_in_transaction_session_timeout, read_only_sql_transaction (a hot standby after failover). */
const PG_CODES: ReadonlySet<string> = new Set(['55P03', '25P03', '25006']);
/** MySQL/MariaDB errnos: lock wait timeout, deadlock, too many connections, shutdown, net errors, statement time, interrupted, killed, read-only, idle disconnect, client-side gone/lost. */
const MYSQL_ERRNOS: ReadonlySet<number> = new Set([
  1205, 1213, 1040, 1053, 1077, 1152, 1153, 1154, 1155, 1156, 1157, 1158, 1159, 1160, 1161, 1290, 1317, 1792, 1836, 1927, 1969, 3024, 4031, 2002, 2003,
  2006, 2013, 2055,
]);
const NODE_NET_CODES: ReadonlySet<string> = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'PROTOCOL_CONNECTION_LOST',
  'PROTOCOL_SEQUENCE_TIMEOUT',
  'ER_CON_COUNT_ERROR',
]);
const SQLITE_PREFIXES: readonly string[] = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_PROTOCOL', 'SQLITE_NOMEM', 'SQLITE_INTERRUPT'];
/** node-postgres reports a lost or unusable connection without a code. */
const PG_CLIENT_MESSAGES = /connection terminated|not queryable|timeout exceeded when trying to connect|query read timeout|connection timeout|pool after calling end/i;

function ownFailure(error: object): boolean {
  if (error instanceof LeaseError) return true;
  const e = error as { code?: unknown; errno?: unknown; fatal?: unknown; message?: unknown };
  // mysql2 marks errors that broke the connection as fatal.
  if (e.fatal === true) return true;
  if (typeof e.code === 'string') {
    if (NODE_NET_CODES.has(e.code)) return true;
    if (/^[0-9A-Z]{5}$/.test(e.code) && (PG_CLASSES.has(e.code.slice(0, 2)) || PG_CODES.has(e.code))) return true;
    if (SQLITE_PREFIXES.some((prefix) => (e.code as string).startsWith(prefix))) return true;
  }
  if (typeof e.errno === 'number' && MYSQL_ERRNOS.has(e.errno)) return true;
  return typeof e.message === 'string' && e.code === undefined && PG_CLIENT_MESSAGES.test(e.message);
}

/**
 * True when `error` (or an error it wraps, through `cause` or `AggregateError.errors`) comes from
 * the database, its driver, the connection or the lease — a failure the handler did not decide.
 */
export function isInfrastructureFailure(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null || depth > 4) return false;
  if (ownFailure(error)) return true;
  const nested = error as { cause?: unknown; errors?: unknown };
  if (Array.isArray(nested.errors) && nested.errors.some((inner) => isInfrastructureFailure(inner, depth + 1))) return true;
  return nested.cause !== undefined && isInfrastructureFailure(nested.cause, depth + 1);
}

/**
 * True when the store certifies that the transaction did not commit: a `LeaseError` whose
 * `committed` is `false` (the store's transient errors, thrown only before any COMMIT was sent or
 * when a COMMIT certainly failed). Then "not executed" is the truth even after COMMIT was issued.
 */
export function certifiesNotCommitted(error: unknown): boolean {
  return error instanceof LeaseError && (error as { committed?: unknown }).committed === false;
}
