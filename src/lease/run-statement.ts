import type { LeaseStore, StatementResult } from './types.js';

/**
 * Runs one lease statement: on the store's autocommit path when it has one (one round trip),
 * else in a one-statement transaction.
 */
export function runStatement(store: LeaseStore, sql: string, params: readonly unknown[], timeoutMs?: number): Promise<StatementResult> {
  if (store.run) return store.run(sql, params, timeoutMs === undefined ? undefined : { timeoutMs });
  return store.transaction(async (tx) => {
    if (/^\s*select/i.test(sql)) return { rows: await tx.query(sql, params), changes: 0 };
    return { rows: [], changes: (await tx.execute(sql, params)).changes };
  });
}
