/**
 * The driver objects a store accepts, typed by their shape instead of by the drivers' own types.
 *
 * The drivers (better-sqlite3, pg, mysql2) are optional peer dependencies: an application that uses
 * only PostgreSQL has neither better-sqlite3 nor `@types/better-sqlite3` installed, and the
 * published `.d.ts` files must still compile with `skipLibCheck: false`. So no public signature
 * names a driver's type; each names the few members the store relies on, which the driver's real
 * object has (a `pg.Pool`, a mysql2/promise `Pool`, a better-sqlite3 `Database` are all accepted),
 * and which a number, a string or a plain object does not.
 */

/**
 * A better-sqlite3 `Database` (the object `new Database(path)` returns), as `sqliteStore` uses it.
 * @see https://github.com/WiseLibs/better-sqlite3/blob/master/docs/api.md#class-database
 */
export interface SqliteDatabaseLike {
  /** Compiles a statement. */
  prepare(source: string): unknown;
  /** The database file's path (`:memory:` for an in-memory database). */
  readonly name: string;
  /** Whether the database is in memory. */
  readonly memory: boolean;
}

/**
 * A node-postgres `Pool` (`new pg.Pool(config)`), as `postgresStore` uses it.
 * @see https://node-postgres.com/apis/pool
 */
export interface PgPoolLike {
  /** Checks a client out of the pool. */
  connect(): Promise<unknown>;
  /** Ends every client of the pool. */
  end(): Promise<void>;
}

/**
 * A mysql2 promise `Pool` (`mysql.createPool(uri)` from `mysql2/promise`), as `mysqlStore` uses it.
 * @see https://sidorares.github.io/node-mysql2/docs#using-connection-pools
 */
export interface MysqlPoolLike {
  /** Checks a connection out of the pool. */
  getConnection(): Promise<unknown>;
  /** Ends every connection of the pool. */
  end(): Promise<void>;
}
