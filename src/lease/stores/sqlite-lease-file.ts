import fs from 'node:fs';
import { StoreConfigurationError } from '../errors.js';


/**
 * Where the lease row lives for an application database: a file of its own beside it, so that
 * the application's write lock (held for a whole call, and kept by a frozen process) never covers
 * the lease. `:memory:` stays in memory (one process only, so nothing else can freeze on it).
 */
export function leasePathFor(appPath: string, inMemory: boolean): string {
  return inMemory || appPath === ':memory:' ? ':memory:' : `${appPath}-lease`;
}

/**
 * The lease file for an application database that is open (so its file exists), named after the
 * file's IDENTITY rather than the path text: every path that reaches one file — through a symlink,
 * `..`, a relative path — must reach one lease, or two engines each hold "the" lease of one
 * database. Symbolic links are resolved (realpath). A hard link cannot be resolved to one name, so
 * a file with more than one link is refused.
 *
 * @throws StoreConfigurationError (fault `location`, permanent: acquire() rejects at once) when the
 * database file has more than one hard link.
 */
export function leasePathForOpenFile(appPath: string, inMemory: boolean): string {
  if (inMemory || appPath === ':memory:' || appPath === '') return leasePathFor(appPath, inMemory);
  let real: string;
  try {
    real = fs.realpathSync.native(appPath);
  } catch {
    // Not a file on disk (a URI filename, say): the path text is all there is.
    return leasePathFor(appPath, false);
  }
  const links = fs.statSync(real).nlink;
  if (links > 1) {
    throw new StoreConfigurationError(
      'location',
      `the SQLite database file '${real}' has ${links} hard links, and each link would get a lease file of its own (two holders at once)`,
      'remove the extra hard links (a symbolic link is fine), or set the `leasePath` option to one path every process uses',
    );
  }
  return leasePathFor(real, false);
}

/**
 * Whether a statement names the lease table (as a whole identifier, quoted or not, with or
 * without a schema): such statements run on the lease file's connection, not the application's.
 */
export function namesTable(table: string): (sql: string) => boolean {
  const pattern = new RegExp(`(^|[^A-Za-z0-9_$])${table}($|[^A-Za-z0-9_$])`, 'i');
  return (sql) => pattern.test(sql);
}
