import { TransactionControlError } from '../lease/errors.js';
import { transactionControlKeyword } from '../lease/stores/transaction-control.js';
import type { SqlExecutor } from '../lease/types.js';

/**
 * The executor handed to a handler. Once the request's transaction is over (committed or rolled
 * back) a late statement from a handler that ignored its abort signal must not run: on
 * better-sqlite3 it would autocommit outside any transaction, on a pool it would run on a
 * connection another request now owns. So it throws instead.
 */
export function sealedExecutor(tx: SqlExecutor, isOpen: () => boolean, activity?: StatementActivity, guard?: ImplicitCommitGuard): SqlExecutor {
  const closed = (): Error => new Error('the request transaction is over (committed or rolled back); this statement was not run');
  const track = <T>(sql: string, run: () => Promise<T>): Promise<T> => {
    if (!isOpen()) return Promise.reject(closed());
    try {
      guard?.check(sql);
    } catch (error) {
      return Promise.reject(error);
    }
    if (activity === undefined) return run();
    activity.started();
    const ran = run();
    void ran.then(activity.ended, activity.ended);
    return ran;
  };
  return {
    dialect: tx.dialect,
    query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
      return track(sql, () => tx.query<R>(sql, params));
    },
    execute(sql: string, params?: readonly unknown[]): Promise<{ changes: number }> {
      return track(sql, () => tx.execute(sql, params));
    },
  };
}

/** Told when a statement of the handler starts and ends (what "idle in transaction" is measured from). */
export interface StatementActivity {
  started: () => void;
  ended: () => void;
}

/**
 * MariaDB/MySQL COMMIT the open transaction implicitly before DDL (`CREATE`, `ALTER`, `DROP`,
 * `TRUNCATE`, `RENAME`), `LOCK`/`UNLOCK TABLES`, `GRANT` and other administration statements: a
 * handler's `CREATE TABLE` committed the node's fence, its idempotency claim and the handler's
 * writes so far, whatever the call's answer. The store itself lets them through (the schema
 * set-up creates tables in `store.transaction`); in a handler's transaction the node refuses them
 * unsent with `TransactionControlError`, and the call — even if the handler caught the refusal —
 * ends as not executed. `CREATE`/`DROP TEMPORARY TABLE` do not commit and are allowed. Both ways of
 * reading a backslash in a string are checked (the session's `NO_BACKSLASH_ESCAPES` is not known here).
 */
export class ImplicitCommitGuard {
  /** The refusal, once a statement was refused: the call must not commit. */
  refused: TransactionControlError | undefined;

  /** Throws the refusal for a statement that would commit implicitly (and for every statement after one). */
  check(sql: string): void {
    if (this.refused) throw this.refused;
    if (typeof sql !== 'string') return;
    const keyword = transactionControlKeyword('mysql', sql, 'unknown', true);
    if (keyword === undefined) return;
    this.refused = new TransactionControlError('node', keyword);
    throw this.refused;
  }
}
