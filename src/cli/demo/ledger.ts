import { readLedger } from '../../testing/ledger-app.js';
import type { RunDatabase } from './database.js';

/**
 * The demo application's side of the check (the ledger app of `hotcold node --app ledger`): the
 * params of each transfer, and which calls the ledger recorded. Each transfer's `ref` is the
 * call's idempotency key, so a transfer executed twice shows up as two rows with one ref.
 */

/**
 * Each caller moves money between its own two accounts: concurrent transfers over shared
 * accounts would update the same rows in opposite orders and deadlock in PostgreSQL (detected
 * only after `deadlock_timeout`), which measures the database, not the failover.
 */
export function transferParams(caller: number, _seq: number, key: string): { from: string; to: string; amount: number; ref: string } {
  return { from: `caller${caller}-savings`, to: `caller${caller}-checking`, amount: 1, ref: key };
}

/** One entry per ledger row: the `ref` (= idempotency key) of every executed transfer. */
export async function readLedgerKeys(db: RunDatabase): Promise<string[]> {
  const rows = await readLedger({ dialect: db.kind, query: (sql: string) => db.query(sql), execute: async () => ({ changes: 0 }) });
  return rows.map((r) => r.ref);
}

/** The fencing token a `transfer` answer reports it executed under (the ledger app returns it). */
export function transferEpoch(result: unknown): number | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  const token = (result as { token?: unknown }).token;
  return typeof token === 'number' && Number.isFinite(token) ? token : undefined;
}
