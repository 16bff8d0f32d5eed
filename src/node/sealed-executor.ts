import type { SqlExecutor } from '../lease/types.js';

/**
 * The executor handed to a handler. Once the request's transaction is over (committed or rolled
 * back) a late statement from a handler that ignored its abort signal must not run: on
 * better-sqlite3 it would autocommit outside any transaction, on a pool it would run on a
 * connection another request now owns. So it throws instead.
 */
export function sealedExecutor(tx: SqlExecutor, isOpen: () => boolean, activity?: StatementActivity): SqlExecutor {
  const closed = (): Error => new Error('the request transaction is over (committed or rolled back); this statement was not run');
  const track = <T>(run: () => Promise<T>): Promise<T> => {
    if (!isOpen()) return Promise.reject(closed());
    if (activity === undefined) return run();
    activity.started();
    const ran = run();
    void ran.then(activity.ended, activity.ended);
    return ran;
  };
  return {
    dialect: tx.dialect,
    query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      return track(() => tx.query<R>(sql, params));
    },
    execute(sql: string, params?: readonly unknown[]): Promise<{ changes: number }> {
      return track(() => tx.execute(sql, params));
    },
  };
}

/** Told when a statement of the handler starts and ends (what "idle in transaction" is measured from). */
export interface StatementActivity {
  started: () => void;
  ended: () => void;
}
