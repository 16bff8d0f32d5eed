import { FencingError } from '../errors.js';
import { isCurrent, toRecord } from '../record.js';

/**
 * Where the lease row lives for an application database: a file of its own beside it, so that
 * the application's write lock (held for a whole call, and kept by a frozen process) never covers
 * the lease. `:memory:` stays in memory (one process only, so nothing else can freeze on it).
 */
export function leasePathFor(appPath: string, inMemory: boolean): string {
  return inMemory || appPath === ':memory:' ? ':memory:' : `${appPath}-lease`;
}

/**
 * Whether a statement names the lease table (as a whole identifier, quoted or not, with or
 * without a schema): such statements run on the lease file's connection, not the application's.
 */
export function namesTable(table: string): (sql: string) => boolean {
  const pattern = new RegExp(`(^|[^A-Za-z0-9_$])${table}($|[^A-Za-z0-9_$])`, 'i');
  return (sql) => pattern.test(sql);
}

/** Throws `FencingError` unless `row` (read with `now_ms`) shows `token` current and unexpired. */
export function requireCurrent(name: string, token: number, row: Record<string, unknown> | undefined): void {
  if (row === undefined) {
    throw new FencingError(`lease '${name}' does not exist: token ${token} is not current`, name, token, undefined);
  }
  const record = toRecord(name, row);
  if (isCurrent(record, token)) return;
  const why =
    record.token !== token
      ? `the current token is ${record.token}`
      : record.holder === null
        ? 'the lease was released'
        : 'the lease expired by the database clock';
  throw new FencingError(`fenced: token ${token} of lease '${name}' is stale (${why})`, name, token, record.token);
}
