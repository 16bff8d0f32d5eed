import { redactText } from '../shared/redact.js';
import {
  DatabaseMissingError,
  StoreAuthenticationError,
  StoreConfigurationError,
  StorePrivilegeError,
} from './errors.js';

/**
 * Tells a permanent store fault (one no retry can cure) from a transient one, by the driver's
 * error code: PostgreSQL SQLSTATE (https://www.postgresql.org/docs/current/errcodes-appendix.html),
 * MariaDB/MySQL errno, SQLite result code. Everything not listed is transient: a lost connection,
 * a lock or statement timeout, a deadlock, a server starting up.
 */

const PG_AUTH = new Set(['28P01', '28000']);
const PG_NO_DATABASE = '3D000';
const PG_PRIVILEGE = '42501';

/** ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR. */
const MYSQL_AUTH = new Set([1045, 1698]);
/** ER_BAD_DB_ERROR. */
const MYSQL_NO_DATABASE = 1049;
/** ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR. */
const MYSQL_PRIVILEGE = new Set([1044, 1142, 1143, 1227]);

const SQLITE_PRIVILEGE = new Set(['SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH']);

function describe(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error));
}

/**
 * The typed permanent error for `error`, or undefined when it is transient.
 * @param doing what was being done, for the message ("preparing table(s) hotcold_lease").
 */
export function asPermanentStoreError(error: unknown, doing: string): StoreConfigurationError | undefined {
  if (error instanceof StoreConfigurationError) return error;
  const e = error as { code?: unknown; errno?: unknown } | null;
  if (typeof e !== 'object' || e === null) return undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const errno = typeof e.errno === 'number' ? e.errno : undefined;
  const detail = describe(error);
  if ((code !== undefined && PG_AUTH.has(code)) || (errno !== undefined && MYSQL_AUTH.has(errno))) {
    return new StoreAuthenticationError(`the database refused the login while ${doing} (${detail})`, error);
  }
  if (code === PG_NO_DATABASE || errno === MYSQL_NO_DATABASE) {
    return new DatabaseMissingError(`the database does not exist (${detail})`, error);
  }
  if (code === PG_PRIVILEGE || (errno !== undefined && MYSQL_PRIVILEGE.has(errno)) || (code !== undefined && SQLITE_PRIVILEGE.has(code))) {
    return new StorePrivilegeError(`the database user lacks a privilege for ${doing} (${detail})`, error);
  }
  return undefined;
}
