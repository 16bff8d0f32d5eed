import { redactText } from '../shared/redact.js';
import { requirePositiveInteger } from '../shared/validate.js';
import { GENERATION_SPAN, tokenGeneration } from './generation.js';
import { requireIssuableToken } from './record.js';
import { runStatement } from './run-statement.js';
import { leaseSql } from './sql.js';
import type { LeaseRecord, LeaseStore, ReplicationInfo } from './types.js';

/**
 * Operator actions on a lease row (the `hotcold lease` command). Every change is one conditional
 * UPDATE; a compare-and-set that loses a race is retried on a fresh read, a bounded number of times.
 */

const MAX_RACES = 20;
/**
 * Bound of each operator statement, on the server too (see docs/lease.md "Bounds"): an operator
 * action waiting in a lock queue would hold up the holder's renewal queued behind it.
 */
export const ADMIN_STATEMENT_TIMEOUT_MS = 5_000;

/** The lease row as `hotcold lease status` shows it; a missing row reads as a free lease at token 0. */
export interface LeaseStatusReport extends LeaseRecord {
  /** The lease table read. */
  table: string;
  /** The store's SQL dialect (`sqlite`, `postgres`, `mysql`). */
  dialect: LeaseStore['dialect'];
  /** False when the lease row does not exist yet (nobody ever contended). */
  exists: boolean;
  /** A holder whose lease has not expired. */
  live: boolean;
  /** The database's failover generation now. */
  generation: number;
  /** The failover generation the current token was issued in (see `tokenGeneration`). */
  tokenGeneration: number;
  /**
   * How the database replicates commits and its failover generation now; `undefined` when the
   * store does not report it (or the check failed: `replicationError` says why).
   */
  replication: ReplicationInfo | undefined;
  /** Why the replication check failed (redacted), when it did. */
  replicationError?: string;
}

/**
 * Reads a lease's row for an operator (`hotcold lease status`): who holds it, its token, how long
 * until it expires, and how the database replicates. Writes nothing.
 *
 * @param store - The lease database.
 * @param name - The lease's name.
 * @throws {StoreConfigurationError} (or a subclass: driver missing, authentication, schema) when the
 * database is misconfigured; otherwise the store's own error when the read fails.
 * @example
 * ```ts
 * import { leaseStatus, sqliteStore } from 'hotcold/lease';
 *
 * const store = sqliteStore('/var/lib/app/lease.db');
 * const report = await leaseStatus(store, 'ledger');
 * console.log(report.live ? `held by ${report.holder} (token ${report.token})` : 'free');
 * await store.close();
 * ```
 */
export async function leaseStatus(store: LeaseStore, name: string): Promise<LeaseStatusReport> {
  const record = await store.read(name);
  let replication: ReplicationInfo | undefined;
  let replicationError: string | undefined;
  try {
    replication = await store.replication?.();
  } catch (error) {
    replicationError = redactText(error instanceof Error ? error.message : String(error), store.secrets);
  }
  return {
    name,
    table: store.table,
    dialect: store.dialect,
    exists: record !== null,
    holder: record?.holder ?? null,
    machineName: record?.machineName ?? null,
    token: record?.token ?? 0,
    version: record?.version ?? 0,
    ageMs: record?.ageMs ?? 0,
    expiresInMs: record?.expiresInMs ?? 0,
    waitIntervalMs: record?.waitIntervalMs ?? 0,
    live: record !== null && record.holder !== null && record.expiresInMs > 0,
    generation: record?.generation ?? replication?.generation ?? 0,
    tokenGeneration: tokenGeneration(record?.token ?? 0),
    replication,
    ...(replicationError === undefined ? {} : { replicationError }),
  };
}

/** What {@link promoteLease} did. */
export interface PromoteResult {
  /**
   * `free`: nobody held it (nothing to do, a waiting node acquires on its own); `cleared-stale`:
   * an expired holder was cleared; `refused-live`: a live holder exists and `force` was not given;
   * `forced`: the holder was cleared and the token bumped.
   */
  outcome: 'free' | 'cleared-stale' | 'refused-live' | 'forced';
  /** The holder id found in the row (`null` when it was free). */
  previousHolder: string | null;
  /** The token after the action (a forced promotion bumps it). */
  token: number;
  /** For `refused-live`: how long until the live holder's lease expires, in ms. */
  expiresInMs?: number;
}

/**
 * Without `force`: refuses while a live holder exists; otherwise clears a stale holder so that a
 * waiting node acquires at once. With `force`: clears the holder and bumps the token (by `bump`,
 * default 1) right away — the old holder's next renewal, and every fenced write with its token, fails.
 *
 * @param store - The lease database.
 * @param name - The lease's name.
 * @param options - `force` (default false) and `bump`, the token increment of a forced promotion (default 1).
 * @throws {ConfigurationError} when `bump` is not a positive integer.
 * @throws {TokenExhaustedError} when the bumped token would pass `Number.MAX_SAFE_INTEGER`.
 * @throws {Error} when the row kept changing under every attempt (a race): try again.
 * @example
 * ```ts
 * import { promoteLease, sqliteStore } from 'hotcold/lease';
 *
 * const store = sqliteStore('/var/lib/app/lease.db');
 * const result = await promoteLease(store, 'ledger');
 * if (result.outcome === 'refused-live') console.log(`live holder ${result.previousHolder}; use force`);
 * await store.close();
 * ```
 */
export async function promoteLease(
  store: LeaseStore,
  name: string,
  options: { force?: boolean; bump?: number } = {},
): Promise<PromoteResult> {
  const sql = leaseSql(store.dialect, store.table);
  // A bump larger than 1 is for after a database failover that may have lost token increments.
  const bump = requirePositiveInteger('bump', options.bump ?? 1);
  for (let attempt = 0; attempt < MAX_RACES; attempt += 1) {
    const record = await store.read(name);
    if (!record) return { outcome: 'free', previousHolder: null, token: 0 };
    if (options.force) {
      // A row of an older failover generation restarts at the current generation's base.
      const from = Math.max(record.token, (record.generation ?? 0) * GENERATION_SPAN);
      requireIssuableToken(name, from, bump);
      const { changes } = await runStatement(store, sql.forceClear, [bump, name, record.version], ADMIN_STATEMENT_TIMEOUT_MS);
      if (changes === 1) {
        await store.notifyRelease?.(name).catch(() => undefined);
        return { outcome: 'forced', previousHolder: record.holder, token: from + bump };
      }
      continue;
    }
    if (record.holder === null) return { outcome: 'free', previousHolder: null, token: record.token };
    if (record.expiresInMs > 0) {
      return { outcome: 'refused-live', previousHolder: record.holder, token: record.token, expiresInMs: record.expiresInMs };
    }
    const { changes } = await runStatement(store, sql.clearExpired, [name], ADMIN_STATEMENT_TIMEOUT_MS);
    if (changes === 1) {
      await store.notifyRelease?.(name).catch(() => undefined);
      return { outcome: 'cleared-stale', previousHolder: record.holder, token: record.token };
    }
  }
  throw new Error(`lease '${name}' kept changing under ${MAX_RACES} attempts; try again`);
}

/** What {@link releaseLeaseHolder} did. */
export interface ReleaseHolderResult {
  /** `released`: the holder was cleared and the token bumped; `free`: nobody held it; `not-holder`: another holder than `options.holder` holds it (nothing changed). */
  outcome: 'released' | 'free' | 'not-holder';
  /** The holder id found in the row (`null` when it was free). */
  previousHolder: string | null;
  /** The token after the action. */
  token: number;
}

/**
 * Clears the holder (optionally only if it is `holder`: a full holder id or a machine name) and
 * bumps the token, since the holder may still be alive: its next renewal and fenced writes fail.
 *
 * @param store - The lease database.
 * @param name - The lease's name.
 * @param options - `holder`: release only if this holder id or machine name holds it.
 * @throws {TokenExhaustedError} when the bumped token would pass `Number.MAX_SAFE_INTEGER`.
 * @example
 * ```ts
 * import { releaseLeaseHolder, sqliteStore } from 'hotcold/lease';
 *
 * const store = sqliteStore('/var/lib/app/lease.db');
 * const { outcome, token } = await releaseLeaseHolder(store, 'ledger', { holder: 'node-a' });
 * console.log(outcome, token);
 * await store.close();
 * ```
 */
export async function releaseLeaseHolder(store: LeaseStore, name: string, options: { holder?: string } = {}): Promise<ReleaseHolderResult> {
  const sql = leaseSql(store.dialect, store.table);
  for (let attempt = 0; attempt < MAX_RACES; attempt += 1) {
    const record = await store.read(name);
    if (!record || record.holder === null) return { outcome: 'free', previousHolder: null, token: record?.token ?? 0 };
    if (options.holder !== undefined && options.holder !== record.holder && options.holder !== record.machineName) {
      return { outcome: 'not-holder', previousHolder: record.holder, token: record.token };
    }
    const from = Math.max(record.token, (record.generation ?? 0) * GENERATION_SPAN);
    requireIssuableToken(name, from, 1);
    const { changes } = await runStatement(store, sql.forceClear, [1, name, record.version], ADMIN_STATEMENT_TIMEOUT_MS);
    if (changes === 1) {
      await store.notifyRelease?.(name).catch(() => undefined);
      return { outcome: 'released', previousHolder: record.holder, token: from + 1 };
    }
  }
  throw new Error(`lease '${name}' kept changing under ${MAX_RACES} attempts; try again`);
}
