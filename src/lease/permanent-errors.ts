import { redactText } from '../shared/redact.js';
import {
  DatabaseMissingError,
  StoreAuthenticationError,
  StoreConfigurationError,
  StorePrivilegeError,
  StoreSchemaError,
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

/**
 * A table of the wrong shape that got past the start-up check (altered since, or a shape it does
 * not know): undefined_function (an operator on a wrong type), numeric_value_out_of_range,
 * string_data_right_truncation, invalid_column_reference (ON CONFLICT without a unique index),
 * datatype_mismatch, undefined_column, invalid_text_representation.
 */
const PG_SHAPE = new Set(['42883', '22003', '22001', '42P10', '42804', '42703', '22P02']);
/**
 * ER_BAD_FIELD_ERROR, ER_WARN_DATA_OUT_OF_RANGE, ER_DATA_TOO_LONG, ER_TRUNCATED_WRONG_VALUE,
 * ER_TRUNCATED_WRONG_VALUE_FOR_FIELD, ER_DATA_OUT_OF_RANGE.
 */
const MYSQL_SHAPE = new Set([1054, 1264, 1406, 1292, 1366, 1690]);
/** SQLITE_MISMATCH: a value of the wrong type for an INTEGER PRIMARY KEY. */
const SQLITE_SHAPE = new Set(['SQLITE_MISMATCH']);

/** ER_ACCESS_DENIED_ERROR, ER_ACCESS_DENIED_NO_PASSWORD_ERROR. */
const MYSQL_AUTH = new Set([1045, 1698]);
/** ER_BAD_DB_ERROR. */
const MYSQL_NO_DATABASE = 1049;
/** ER_DBACCESS_DENIED_ERROR, ER_TABLEACCESS_DENIED_ERROR, ER_COLUMNACCESS_DENIED_ERROR, ER_SPECIFIC_ACCESS_DENIED_ERROR. */
const MYSQL_PRIVILEGE = new Set([1044, 1142, 1143, 1227]);

const SQLITE_PRIVILEGE = new Set(['SQLITE_READONLY', 'SQLITE_PERM', 'SQLITE_AUTH']);

/**
 * SQLite reports no write access with EXTENDED result codes too (better-sqlite3 gives those):
 * `SQLITE_READONLY_DIRECTORY` (the -wal/-shm/lease file cannot be created beside the database),
 * `_RECOVERY`, `_CANTLOCK`, `_ROLLBACK`, `_DBMOVED`, `_CANTINIT`. None clears by retrying.
 */
function isSqlitePrivilege(code: string): boolean {
  return SQLITE_PRIVILEGE.has(code) || code.startsWith('SQLITE_READONLY_');
}

/**
 * A SQLite path that cannot be opened: `SQLITE_CANTOPEN` (and its extended codes: a directory,
 * no permission to create the file), or better-sqlite3's own check that the directory exists
 * (a TypeError without a code).
 */
function isSqliteLocation(error: unknown, code: string | undefined): boolean {
  if (code !== undefined) return code === 'SQLITE_CANTOPEN' || code.startsWith('SQLITE_CANTOPEN_');
  return error instanceof TypeError && /^Cannot open database because the directory does not exist/.test(error.message);
}

/**
 * A connection string the driver cannot parse, found when it first connects (a pool the caller
 * built, or one that got past the store's own check): Node's `ERR_INVALID_URL`, or a `URIError`
 * from percent-decoding the user or password. Never retried; and the driver's error is not kept
 * as the cause, since `ERR_INVALID_URL` carries the whole string, password included, in `input`.
 */
function isUnparsableConnectionString(error: unknown, code: string | undefined): boolean {
  return code === 'ERR_INVALID_URL' || error instanceof URIError;
}

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
  if (isUnparsableConnectionString(error, code)) {
    return new StoreConfigurationError(
      'connection-string',
      `the connection string cannot be parsed as a URL while ${doing}`,
      'fix the connection string: the host, the port (1–65535) and the percent-encoding of the user and password',
    );
  }
  if (isSqliteLocation(error, code)) {
    return new StoreConfigurationError(
      'location',
      `the SQLite database cannot be opened while ${doing} (${describe(error)})`,
      'give a path to a file in an existing directory that this process may create and write, with the lease file (`leasePath`) beside it',
      error,
    );
  }
  const detail = describe(error);
  if ((code !== undefined && PG_AUTH.has(code)) || (errno !== undefined && MYSQL_AUTH.has(errno))) {
    return new StoreAuthenticationError(`the database refused the login while ${doing} (${detail})`, error);
  }
  if (code === PG_NO_DATABASE || errno === MYSQL_NO_DATABASE) {
    return new DatabaseMissingError(`the database does not exist (${detail})`, error);
  }
  if (code === PG_PRIVILEGE || (errno !== undefined && MYSQL_PRIVILEGE.has(errno)) || (code !== undefined && isSqlitePrivilege(code))) {
    return new StorePrivilegeError(`the database user lacks a privilege for ${doing} (${detail})`, error);
  }
  if ((code !== undefined && (PG_SHAPE.has(code) || SQLITE_SHAPE.has(code))) || (errno !== undefined && MYSQL_SHAPE.has(errno))) {
    return new StoreSchemaError(tableOf(error) ?? 'the lease table', [], error, [`the database refused a statement for ${doing} (${detail})`]);
  }
  return undefined;
}

/** The table a PostgreSQL error names, when it names one. */
function tableOf(error: unknown): string | undefined {
  const table = (error as { table?: unknown }).table;
  return typeof table === 'string' && table.length > 0 ? table : undefined;
}
