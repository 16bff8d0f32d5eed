import { ConfigurationError } from '../errors.js';
import { mysqlStore } from './stores/mysql.js';
import { postgresStore } from './stores/postgres.js';
import { sqliteStore } from './stores/sqlite.js';
import type { SqlLeaseStore } from './stores/base.js';

/** Options of {@link storeFromUrl}. */
export interface StoreFromUrlOptions {
  /**
   * Lease table.
   * @default 'hotcold_lease'
   */
  table?: string;
  /** Connect timeout (ms) of a PostgreSQL or MariaDB/MySQL store; SQLite ignores it. @default 10000 */
  connectTimeoutMs?: number;
}

/**
 * A store for a database URL: `postgres://…` / `postgresql://…`, `mysql://…` / `mariadb://…`,
 * `sqlite:/path/file.db` (or `sqlite:relative.db`, or a plain file path). The store opens its own
 * connections and closes them in `close()`.
 *
 * Without the scheme's driver installed, the store's first operation rejects with {@link DriverMissingError}.
 *
 * @param url - `postgres://…`, `mysql://…`, `mariadb://…`, `sqlite:/path/file.db` or a file path.
 * @param options - Table and connect timeout; see {@link StoreFromUrlOptions}.
 * @throws {ConfigurationError} `db` when the URL is empty or of an unsupported scheme.
 * @example
 * ```ts
 * import { createLease, storeFromUrl } from 'hotcold/lease';
 *
 * const store = storeFromUrl(process.env['LEASE_DB'] ?? 'sqlite:/var/lib/app/app.db');
 * const lease = createLease({ store, machineName: 'node-a' });
 * ```
 */
export function storeFromUrl(url: string, options: StoreFromUrlOptions = {}): SqlLeaseStore {
  if (typeof url !== 'string' || url.trim().length === 0) throw new ConfigurationError('db', 'must be a database URL or a SQLite file path');
  const table = options.table === undefined ? {} : { table: options.table };
  const server = options.connectTimeoutMs === undefined ? table : { ...table, connectTimeoutMs: options.connectTimeoutMs };
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  switch (scheme) {
    case 'postgres':
    case 'postgresql':
      return postgresStore(url, server);
    case 'mysql':
    case 'mariadb':
      return mysqlStore(url, server);
  }
  const path = sqlitePathOf(url);
  if (path !== undefined) {
    if (path.length === 0) throw new ConfigurationError('db', 'sqlite: URL needs a file path');
    return sqliteStore(path, table);
  }
  throw new ConfigurationError('db', `unsupported scheme '${scheme ?? ''}:' (use postgres://, mysql://, mariadb:// or sqlite:)`);
}

/**
 * The SQLite file a database URL names (`sqlite:///abs`, `sqlite:/abs`, `sqlite:rel`, a plain
 * path, a Windows drive path), or `undefined` for a server URL or an unknown scheme. The path may
 * be empty (`sqlite:`), which `storeFromUrl` rejects.
 */
export function sqlitePathOf(url: string): string | undefined {
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  // A one-letter scheme is a Windows drive (C:\…): a plain path.
  if (scheme === undefined || scheme.length === 1) return url;
  // sqlite:///abs/path, sqlite:/abs/path and sqlite:rel/path all name a file.
  if (scheme === 'sqlite') return url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
  return undefined;
}
