import type { Logger } from '../shared/logger.js';
import type { SecretScope } from '../shared/redact.js';
import type { Observable } from 'rxjs';
import type { LeaseClock } from './clock.js';
import type { LeaseLostReason } from './errors.js';
import type { TelemetryOptions } from '../shared/telemetry.js';

/**
 * Public types of the lease engine (`hotcold/lease`). The engine (lease.ts) and the node
 * (`hotcold/node`) meet here: the node needs a held lease, its fencing token, and a way to run
 * its dedup record and the handler's writes in one transaction on the lease's database.
 */

/** The SQL dialect of a lease database (MariaDB is `mysql`). */
export type Dialect = 'sqlite' | 'postgres' | 'mysql';

/**
 * A statement runner bound to one open transaction on the lease database. Placeholders are `?`
 * on every dialect (the store rewrites them for PostgreSQL).
 */
export interface SqlExecutor {
  /** The database's dialect, for statements that differ between databases. */
  readonly dialect: Dialect;
  /** Runs a query in the transaction and resolves to its rows (column name → value). */
  query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]>;
  /** Runs a statement and returns the number of rows it changed. */
  execute(
    sql: string,
    params?: readonly unknown[],
  ): Promise<{
    /** Rows inserted, updated or deleted by the statement. */
    changes: number;
  }>;
}

/** A lease row as read from the store. */
export interface LeaseRecord {
  /** The lease's name (the row's key). */
  name: string;
  /** `machineName#instanceId`, or null when released. */
  holder: string | null;
  /** The holder's machine name (`holder` without `#instanceId`), or null when released. */
  machineName: string | null;
  /** The current fencing token: rises on every change of holder, never repeats. */
  token: number;
  /** Row version: rises on every write (acquire, renewal, release). */
  version: number;
  /** Milliseconds since the last renewal, measured on the database server's clock. */
  ageMs: number;
  /** Milliseconds until a standby may take over (<= 0: expired or free). */
  expiresInMs: number;
  /** The `waitInterval` the holder announced with its last write. */
  waitIntervalMs: number;
  /**
   * The database's failover generation when the row was read (PostgreSQL: timeline ID − 1; 0
   * where the store knows none). Every token issued in generation `g` lies in
   * `[g × 2^32 + 1, (g + 1) × 2^32)`: see {@link tokenGeneration}. Optional for stores written
   * before generations (absent reads as 0); the built-in stores always set it.
   */
  generation?: number;
}

/**
 * How commits on the lease database are replicated, as the store's session sees it (checked at
 * start, after a statement failed and after a failover generation change):
 * - `synchronous`: a commit returns only once a standby has it (PostgreSQL
 *   `synchronous_standby_names` set and `synchronous_commit` `on`/`remote_write`/`remote_apply`;
 *   MariaDB semi-synchronous replication active): a promoted standby has every acknowledged commit;
 * - `asynchronous`: a commit returns before any standby has it (also: replication possible but no
 *   synchronous standby configured): a promotion can lose the last commits;
 * - `none`: the database cannot replicate (PostgreSQL `wal_level = minimal`, MariaDB without a
 *   binary log, SQLite);
 * - `unknown`: the store could not tell (see `detail`).
 */
export type ReplicationMode = 'synchronous' | 'asynchronous' | 'none' | 'unknown';

/** What a store found out about replication: see {@link ReplicationMode}. */
export interface ReplicationInfo {
  /** How commits are replicated (see {@link ReplicationMode}). */
  mode: ReplicationMode;
  /** The database's failover generation now (see {@link LeaseRecord.generation}). */
  generation: number;
  /** The settings it was judged from, e.g. `synchronous_commit=on, synchronous_standby_names='*', 1 standby (1 synchronous)`. */
  detail: string;
  /**
   * For `synchronous`: whether a synchronous standby is connected now. `false`: every commit waits
   * until one connects (PostgreSQL: `pg_stat_replication` has no `sync`/`quorum` standby), so
   * `requireSynchronousReplication` refuses the database. Absent where the store cannot tell.
   */
  standbyConnected?: boolean;
}

/**
 * A lease database. Implementations: `sqliteStore`, `postgresStore`, `mysqlStore`. The engine
 * drives the lease statements through the store; applications use {@link LeaseStore.transaction}
 * and {@link LeaseStore.assertHeld} to fence their own writes.
 */
export interface LeaseStore {
  /** The database's dialect. */
  readonly dialect: Dialect;
  /**
   * The literal secrets this store was configured with (a connection string's password), scrubbed
   * from every message the engine and the node write about it. Cleared by `close()`.
   * @internal
   */
  readonly secrets?: SecretScope;
  /** The lease table's name (validated SQL identifier). */
  readonly table: string;
  /** Creates the lease table if absent. Idempotent; safe to race between processes. */
  init(): Promise<void>;
  /** The DDL `init()` runs, for a DBA to apply by hand. */
  ddl(): string[];
  /** Reads a lease row (null if no row for `name`). */
  read(name: string): Promise<LeaseRecord | null>;
  /**
   * Runs `fn` in one transaction; commits when it resolves, rolls back when it throws.
   *
   * `options.signal` lets the caller give up on the transaction without waiting on the database
   * (a frozen server, a lost lease, a caller out of time): when it aborts, the promise rejects at
   * once and the connection is discarded, not awaited (its socket is closed, so the server rolls
   * back; SQLite rolls back in-process), and statements `fn` issues afterwards fail. It rejects
   * with `TransactionAbandonedError` (`committed === false`) when COMMIT had not been sent, with
   * `CommitAbandonedError` (outcome unknown) when it had; a COMMIT already acknowledged wins.
   * @throws TransactionAbandonedError | CommitAbandonedError when `options.signal` aborts first
   */
  transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, options?: TransactionOptions): Promise<T>;
  /**
   * Inside `tx`, locks the lease row and throws `FencingError` unless `token` is still the
   * current token, of the database's current failover generation, the lease is not expired and
   * (when `holder` is given) the row names `holder` as its holder. Call it before writes that
   * only the hot node may make, in the same transaction as those writes.
   */
  assertHeld(tx: SqlExecutor, name: string, token: number, holder?: string): Promise<void>;
  /**
   * How commits are replicated now, and the database's failover generation (see
   * {@link ReplicationInfo}). Absent: the engine reports `unknown`.
   */
  replication?(): Promise<ReplicationInfo>;
  /** Ends connections the store opened itself (not a pool or database the user passed in). */
  close(): Promise<void>;
  /**
   * Runs one statement on its own (autocommit, one round trip). The engine's lease statements use
   * it when present, else they run in {@link LeaseStore.transaction}. `timeoutMs` caps the wait on
   * the client side (the driver drops the connection if it expires).
   */
  run?(sql: string, params?: readonly unknown[], options?: { timeoutMs?: number }): Promise<StatementResult>;
  /**
   * Accelerator, never needed for correctness: calls `onRelease` soon after lease `name` is
   * released or cleared elsewhere (PostgreSQL LISTEN/NOTIFY), so a waiting standby re-reads at
   * once instead of at its next poll. Resolves to an unsubscribe function.
   */
  watchReleases?(name: string, onRelease: () => void): Promise<() => Promise<void>>;
  /** Tells `watchReleases` subscribers (in any process) that lease `name` was released. */
  notifyRelease?(name: string): Promise<void>;
}

/** Options of {@link LeaseStore.transaction}. */
export interface TransactionOptions {
  /** Aborting it abandons the transaction at once: see {@link LeaseStore.transaction}. */
  signal?: AbortSignal | undefined;
}

/** What {@link LeaseStore.run} returns: the rows of a query, or the number of rows a write changed. */
export interface StatementResult {
  /** The rows of a query (column name → value); empty for a write. */
  rows: Record<string, unknown>[];
  /** Rows a write inserted, updated or deleted; 0 for a query. */
  changes: number;
}

/**
 * How a lease is taken (DESIGN §1):
 * - `cold`: manual promotion. `acquire()` waits out a live holder and takes the lease once it is
 *   free or expired; after losing it the engine stays `lost` until asked again.
 * - `warm`: automatic takeover. The engine stays a standby, takes the lease when the holder's
 *   row expires or is released, and after losing it goes back to standby.
 */
export type LeaseMode = 'cold' | 'warm';

/**
 * Where a lease engine is:
 * - `standby`: not holding; in `warm` mode watching for the lease to become free;
 * - `acquiring`: `acquire()` was called in `cold` mode and waits for the lease;
 * - `active`: holding the lease ({@link Lease.current} is set);
 * - `lost`: held it and lost it (renewals failed, the deadline passed, another holder took over);
 *   in `cold` mode the engine stays here until `acquire()` is called again;
 * - `released`: gave it up with `release()`;
 * - `closed`: `close()` ran; final.
 */
export type LeaseStatus = 'standby' | 'acquiring' | 'active' | 'lost' | 'released' | 'closed';

/** A lease engine's state, as {@link Lease.state} and {@link Lease.state$} report it. */
export interface LeaseState {
  /** Where the engine is. */
  status: LeaseStatus;
  /** Current holder as last seen (ours when active). */
  holder?: string | undefined;
  /** Our fencing token while active; the holder's token as last seen otherwise. */
  token?: number | undefined;
  /** Monotonic ms timestamp of the change. */
  since: number;
  /** Why the engine is in this state, when it is there after a failure (redacted text). */
  reason?: string | undefined;
  /** How the lease database replicates commits, as last checked (see {@link ReplicationInfo}). */
  replication?: ReplicationInfo | undefined;
}

/**
 * What happened to a lease, on {@link Lease.events$} (switch on `type`). Texts are redacted:
 * never a credential.
 */
export type LeaseEvent =
  | {
      /** The lease was taken. */
      type: 'acquired';
      /** The new fencing token. */
      token: number;
      /** Milliseconds spent contending before it was taken. */
      waitedMs: number;
    }
  | {
      /** A renewal succeeded. */
      type: 'renewed';
      /** The token renewed. */
      token: number;
      /** Round trip of the renewal statement, in milliseconds. */
      latencyMs: number;
    }
  | {
      /** A renewal failed; the engine retries while the self-fencing deadline allows. */
      type: 'renew-failed';
      /** The token whose renewal failed. */
      token: number;
      /** The failure, as redacted text. */
      error: string;
      /** Renewals failed in a row, this one included. */
      consecutive: number;
    }
  | {
      /** The lease was lost: {@link HeldLease.signal} aborted. */
      type: 'lost';
      /** The token that was lost. */
      token: number;
      /** Why, as redacted text. */
      reason: string;
      /** Why, as a value to switch on: `superseded` (a renewal rejected while still valid: a forced promotion, a failover) or `self-fenced` (no renewal in time; a rejection handled after the deadline included). */
      cause: LeaseLostReason;
    }
  | {
      /** The lease was released with `release()`. */
      type: 'released';
      /** The token that was released. */
      token: number;
    }
  | {
      /** Something the operator should know that did not change the state (a failed read, a risky setting). */
      type: 'warning';
      /** What happened, as redacted text. */
      message: string;
    }
  | {
      /** The store's replication mode and failover generation were checked (at start, after a failure, after a failover). */
      type: 'replication';
      /** What was found. */
      replication: ReplicationInfo;
    }
  | {
      /**
       * The database failed over: its generation is higher than the lease row's token's. Nobody
       * acquires until `waitIntervalMs` after this engine marked the row (every holder of the old
       * generation has fenced itself by then).
       */
      type: 'generation-changed';
      /** The database's generation now. */
      generation: number;
      /** The generation of the row's token. */
      previousGeneration: number;
      /** How long nobody acquires, in milliseconds. */
      waitIntervalMs: number;
    };

/** What `acquire()` resolves to: proof of holding, valid until `signal` aborts. */
export interface HeldLease {
  /**
   * The fencing token: rises on every change of holder, never repeats, also across a promotion
   * of the database: `tokenGeneration(token)` is the database's failover generation it was issued in.
   */
  readonly token: number;
  /** Aborts the moment the lease is lost or released. */
  readonly signal: AbortSignal;
  /**
   * True while the self-fencing deadline (local monotonic clock, from the send time of the last
   * successful renewal) has not passed and the lease was not lost or released. Synchronous: call
   * it right before each action, since a timer-driven `signal` can fire late after a pause.
   */
  isValid(): boolean;
  /** Milliseconds left before this holder must consider itself fenced. */
  remainingMs(): number;
}

/**
 * Options of `createLease`. Invalid values throw `ConfigurationError` naming the field.
 * Times are milliseconds.
 */
export interface LeaseOptions {
  /** The lease database: `sqliteStore`, `postgresStore`, `mysqlStore` or `storeFromUrl`. */
  store: LeaseStore;
  /**
   * The lease's name (its row).
   * @defaultValue `'hotcold'`
   */
  name?: string;
  /** This node's machine name; a per-process instance id is appended to form the holder. */
  machineName: string;
  /**
   * Milliseconds between renewals (Corda's `updateInterval`).
   * @defaultValue 20000
   */
  updateInterval?: number;
  /**
   * Milliseconds without a renewal before a standby may take over (Corda's `waitInterval`); the holder self-fences before that.
   * @defaultValue 40000
   */
  waitInterval?: number;
  /**
   * `cold`: acquire when asked, waiting out a live holder. `warm`: stay a standby and take over on expiry.
   * @defaultValue `'cold'`
   */
  mode?: LeaseMode;
  /**
   * Cap for each lease statement, in ms; must end before the self-fencing deadline. A renewal
   * waits longer — until just one retry still fits before the deadline it would extend — since it may queue
   * behind running fenced transactions and the database commits it even if the client gives up.
   * @defaultValue the smallest of `updateInterval`, half the slack between a renewal and its
   * deadline, and 5000 ms
   */
  statementTimeoutMs?: number;
  /**
   * The engine's monotonic clock and timers. Tests pass a manual clock to step the engine's
   * timing policy without sleeping; in production leave it unset (the self-fencing argument
   * assumes a clock that runs at the rate of real time).
   * @defaultValue `systemClock`: `performance.now()` and real timers
   */
  clock?: LeaseClock;
  /**
   * Where the engine logs (a pino logger, or any object with `debug/info/warn/error(obj, msg)`):
   * `lost` and a permanent store fault at `error`, warnings and failed renewals at `warn`,
   * acquired/released/generation changes at `info`, renewals at `debug`. Every record is redacted.
   * @defaultValue none: nothing is logged, except that a lost lease and a permanent store fault
   * are written to stderr as one line each (docs/logging.md "Defaults")
   */
  logger?: Logger;
  /**
   * How often a standby re-reads the row while another node holds it, in ms, so that a `release()`
   * is noticed quickly (expiry itself is timed from the row, not polled). One primary-key read per
   * interval.
   * @defaultValue `updateInterval / 4`, between 10 and 1000
   */
  pollInterval?: number;
  /**
   * FOR THE STRESS SUITE'S NEGATIVE CONTROL ONLY: NEVER IN PRODUCTION. Turns self-fencing off:
   * `isValid()` stays true while the engine believes it is active, there is no local deadline, and
   * the holder keeps acting through pauses until a renewal is rejected.
   * @defaultValue false
   */
  unsafeDisableSelfFencing?: boolean;
  /**
   * Refuse to acquire unless commits on the lease database are synchronously replicated (see
   * {@link ReplicationMode}): `acquire()` rejects with `ReplicationModeError` when the store
   * reports anything else. For a replicated database whose failover must not lose an
   * acknowledged renewal or fenced write. Checked at start, after a statement failed and after a
   * failover.
   * @defaultValue false
   */
  requireSynchronousReplication?: boolean;
  /**
   * Where the lease's metrics go (docs/observability.md "Lease"): state, fencing token, renewal
   * latency, time left to the self-fencing deadline, takeovers and losses.
   * @defaultValue the global providers of `@opentelemetry/api` (no-ops until an SDK is registered)
   */
  telemetry?: TelemetryOptions;
}

/**
 * A lease engine (`createLease`): contends for, holds, renews and self-fences one named lease.
 * Dispose of it with `close()`.
 */
export interface Lease {
  /** The lease's name (its row). */
  readonly name: string;
  /** `machineName#instanceId`. */
  readonly holderId: string;
  /** The options in force, defaults filled in (`telemetry` and `logger` are not repeated here). */
  readonly options: Readonly<Required<Omit<LeaseOptions, 'store' | 'telemetry' | 'logger'>>>;
  /** The lease database. */
  readonly store: LeaseStore;
  /** The state: replays the current one to each subscriber, then every change; completes on `close()`. */
  readonly state$: Observable<LeaseState>;
  /** Acquisitions, renewals, failures, losses, releases and warnings; completes on `close()`. */
  readonly events$: Observable<LeaseEvent>;
  /** The current state, synchronously. */
  readonly state: LeaseState;
  /** The held lease while active, else undefined. */
  readonly current: HeldLease | undefined;
  /** Resolves once held (waiting out a live holder); rejects if `signal` aborts or the lease is closed. */
  acquire(options?: { signal?: AbortSignal }): Promise<HeldLease>;
  /** Planned handover: clears the holder so a standby can take over at once. */
  release(): Promise<void>;
  /** `assertHeld` on this lease's row with this lease's current token. */
  assertHeld(tx: SqlExecutor, token?: number): Promise<void>;
  /** Releases if held, stops every timer; the store is closed only if the lease created it. */
  close(): Promise<void>;
}
