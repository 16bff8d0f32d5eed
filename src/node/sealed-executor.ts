import type { SqlExecutor } from '../lease/types.js';

/**
 * The executor handed to a handler. Once the request's transaction is over (committed or rolled
 * back) a late statement from a handler that ignored its abort signal must not run: on
 * better-sqlite3 it would autocommit outside any transaction, on a pool it would run on a
 * connection another request now owns. So it throws instead.
 */
export function sealedExecutor(tx: SqlExecutor, isOpen: () => boolean): SqlExecutor {
  const closed = (): Error => new Error('the request transaction is over (committed or rolled back); this statement was not run');
  return {
    dialect: tx.dialect,
    query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      return isOpen() ? tx.query<R>(sql, params) : Promise.reject(closed());
    },
    execute(sql: string, params?: readonly unknown[]): Promise<{ changes: number }> {
      return isOpen() ? tx.execute(sql, params) : Promise.reject(closed());
    },
  };
}
