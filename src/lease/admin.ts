import { monotonicNow } from '../shared/clock.js';
import { redactText } from '../shared/redact.js';
import { setTimer } from '../shared/timer.js';
import { requirePositiveInteger } from '../shared/validate.js';
import { LeaseAdminTimeoutError } from './errors.js';
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

/** Default bound of a whole operator action (every read, change and retry of it), ms. */
export const ADMIN_TIMEOUT_MS = 15_000;

/** Options every operator action takes. */
export interface LeaseAdminOptions {
  /**
   * Bound of the whole action on the client side, in ms: past it the action rejects with
   * {@link LeaseAdminTimeoutError} (saying whether a change may have been applied) instead of
   * waiting on the database — a COMMIT waiting for an absent synchronous standby waits forever.
   * Each statement is also bounded on the server by the smaller of this and 5000 ms.
   * @default 15000
   */
  timeoutMs?: number;
}

/** One action in progress: its bound, and whether a change has been sent. */
class AdminRun {
  changeSent = false;
  expired = false;
  private readonly endsAt: number;
  constructor(
    readonly lease: string,
    readonly action: string,
    readonly timeoutMs: number,
  ) {
    this.endsAt = monotonicNow() + timeoutMs;
  }

  /** The server-side bound of the next statement; throws once the action's bound has passed. */
  statementMs(): number {
    const left = Math.floor(this.endsAt - monotonicNow());
    if (this.expired || left <= 0) throw this.timeout();
    return Math.max(1, Math.min(ADMIN_STATEMENT_TIMEOUT_MS, left));
  }

  timeout(cause?: unknown): LeaseAdminTimeoutError {
    this.expired = true;
    const detail = cause === undefined ? `no answer from the database within ${this.timeoutMs} ms (timeoutMs)` : `the database did not acknowledge the change (${describeCause(cause)})`;
    return new LeaseAdminTimeoutError(this.lease, this.action, detail, this.changeSent ? undefined : false, cause === undefined ? undefined : { cause });
  }

  /**
   * Runs a change statement. A failure the server reported (an SQLSTATE: a lock or statement
   * timeout, a constraint) means it was not applied; anything else (a client-side timeout, a lost
   * connection) leaves its outcome unknown, and the action says so.
   */
  async change(store: LeaseStore, sql: string, params: readonly unknown[]): Promise<{ changes: number }> {
    const bound = this.statementMs();
    this.changeSent = true;
    try {
      return await runStatement(store, sql, params, bound);
    } catch (error) {
      if (serverReported(error)) {
        this.changeSent = false;
        throw error;
      }
      throw this.timeout(error);
    }
  }
}

function describeCause(cause: unknown): string {
  return cause instanceof Error ? cause.message : String(cause);
}

/**
 * The change certainly did not apply: the database answered with an error of its own (PostgreSQL
 * `code`, MariaDB `sqlState`: five characters), or the store says nothing was committed
 * (`TransientStoreError`, e.g. SQLite's `StoreBusyError`).
 */
function serverReported(error: unknown): boolean {
  const e = error as { code?: unknown; sqlState?: unknown; committed?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  if (e.committed === false) return true;
  return (typeof e.sqlState === 'string' && e.sqlState.length === 5) || (typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code));
}

/**
 * Runs `body` under the action's bound. The bound's timer is ref'd: it is what ends an action
 * the caller awaits. A late answer after the bound is dropped (and `run.expired` stops the body
 * from sending anything more).
 */
async function withinBound<T>(lease: string, action: string, options: LeaseAdminOptions | undefined, body: (run: AdminRun) => Promise<T>): Promise<T> {
  const timeoutMs = requirePositiveInteger('timeoutMs', options?.timeoutMs ?? ADMIN_TIMEOUT_MS);
  const run = new AdminRun(lease, action, timeoutMs);
  const running = body(run);
  running.catch(() => undefined);
  let timer: ReturnType<typeof setTimer> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimer(() => reject(run.timeout()), timeoutMs);
  });
  try {
    return await Promise.race([running, timeout]);
  } finally {
    timer?.clear();
  }
}

/**
 * Creates the lease table if absent (`LeaseStore.init()`), bounded like every operator action.
 * @throws {LeaseAdminTimeoutError} when the database does not answer within `timeoutMs` (the
 * table may or may not have been created: a DDL commit can wait for a synchronous standby too)
 */
export function initLeaseTable(store: LeaseStore, options?: LeaseAdminOptions): Promise<void> {
  return withinBound(store.table, 'init', options, async (run) => {
    run.changeSent = true;
    await store.init();
  });
}

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
 * @param options - The client-side bound on the whole operation ({@link LeaseAdminOptions}).
 * @throws {LeaseAdminTimeoutError} (`committed: false`) when the database does not answer within `timeoutMs`
 * @throws {StoreConfigurationError} (or a subclass: driver missing, authentication, schema) when the
 * database is misconfigured; otherwise the store's own error when the read fails.
 * @example
 * ```ts
 * import { leaseStatus, sqliteStore } from 'hotcold/lease';
 *
 * const store = sqliteStore('/var/lib/app/lease.db');
 * const report = await leaseStatus(store, 'ledger', { timeoutMs: 5_000 });
 * console.log(report.live ? `held by ${report.holder} (token ${report.token})` : 'free');
 * await store.close();
 * ```
 */
export function leaseStatus(store: LeaseStore, name: string, options?: LeaseAdminOptions): Promise<LeaseStatusReport> {
  return withinBound(name, 'status', options, async (run) => {
    run.statementMs();
    const record = await store.read(name);
    let replication: ReplicationInfo | undefined;
    let replicationError: string | undefined;
    try {
      run.statementMs();
      replication = await store.replication?.();
    } catch (error) {
      if (error instanceof LeaseAdminTimeoutError) throw error;
      replicationError = redactText(error instanceof Error ? error.message : String(error), store.secrets);
    }
    return statusReport(store, name, record, replication, replicationError);
  });
}

function statusReport(
  store: LeaseStore,
  name: string,
  record: LeaseRecord | null,
  replication: ReplicationInfo | undefined,
  replicationError: string | undefined,
): LeaseStatusReport {
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
  options: { force?: boolean; bump?: number } & LeaseAdminOptions = {},
): Promise<PromoteResult> {
  const sql = leaseSql(store.dialect, store.table);
  // A bump larger than 1 is for after a database failover that may have lost token increments.
  const bump = requirePositiveInteger('bump', options.bump ?? 1);
  return await withinBound(name, 'promote', options, (run) => promote(store, name, sql, bump, options.force === true, run));
}

async function promote(store: LeaseStore, name: string, sql: ReturnType<typeof leaseSql>, bump: number, force: boolean, run: AdminRun): Promise<PromoteResult> {
  for (let attempt = 0; attempt < MAX_RACES; attempt += 1) {
    run.statementMs();
    const record = await store.read(name);
    if (!record) return { outcome: 'free', previousHolder: null, token: 0 };
    if (force) {
      // A row of an older failover generation restarts at the current generation's base.
      const from = Math.max(record.token, (record.generation ?? 0) * GENERATION_SPAN);
      requireIssuableToken(name, from, bump);
      const { changes } = await run.change(store, sql.forceClear, [bump, name, record.version]);
      if (changes === 1) {
        await notify(store, name, run);
        return { outcome: 'forced', previousHolder: record.holder, token: from + bump };
      }
      continue;
    }
    if (record.holder === null) return { outcome: 'free', previousHolder: null, token: record.token };
    if (record.expiresInMs > 0) {
      return { outcome: 'refused-live', previousHolder: record.holder, token: record.token, expiresInMs: record.expiresInMs };
    }
    const { changes } = await run.change(store, sql.clearExpired, [name]);
    if (changes === 1) {
      await notify(store, name, run);
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
export function releaseLeaseHolder(store: LeaseStore, name: string, options: { holder?: string } & LeaseAdminOptions = {}): Promise<ReleaseHolderResult> {
  const sql = leaseSql(store.dialect, store.table);
  return withinBound(name, 'release', options, (run) => release(store, name, sql, options.holder, run));
}

async function release(store: LeaseStore, name: string, sql: ReturnType<typeof leaseSql>, holder: string | undefined, run: AdminRun): Promise<ReleaseHolderResult> {
  const options = { holder };
  for (let attempt = 0; attempt < MAX_RACES; attempt += 1) {
    run.statementMs();
    const record = await store.read(name);
    if (!record || record.holder === null) return { outcome: 'free', previousHolder: null, token: record?.token ?? 0 };
    if (options.holder !== undefined && options.holder !== record.holder && options.holder !== record.machineName) {
      return { outcome: 'not-holder', previousHolder: record.holder, token: record.token };
    }
    const from = Math.max(record.token, (record.generation ?? 0) * GENERATION_SPAN);
    requireIssuableToken(name, from, 1);
    const { changes } = await run.change(store, sql.forceClear, [1, name, record.version]);
    if (changes === 1) {
      await notify(store, name, run);
      return { outcome: 'released', previousHolder: record.holder, token: from + 1 };
    }
  }
  throw new Error(`lease '${name}' kept changing under ${MAX_RACES} attempts; try again`);
}

/**
 * Wakes waiting nodes (an accelerator: they poll anyway). Not waited for past the action's bound:
 * a PostgreSQL NOTIFY commits too, and waits for a synchronous standby like any commit.
 */
async function notify(store: LeaseStore, name: string, run: AdminRun): Promise<void> {
  if (!store.notifyRelease) return;
  const sent = store.notifyRelease(name).catch(() => undefined);
  let timer: ReturnType<typeof setTimer> | undefined;
  const left = new Promise<void>((resolve) => {
    try {
      timer = setTimer(resolve, run.statementMs());
    } catch {
      resolve();
    }
  });
  try {
    await Promise.race([sent, left]);
  } finally {
    timer?.clear();
  }
}
