import { randomBytes } from 'node:crypto';
import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { Log, type Logger } from '../shared/logger.js';
import { redactText } from '../shared/redact.js';
import type { LeaseClock, TimerHandle } from './clock.js';
import { FencingError, LeaseClosedError, LeaseLostError, LeaseTimeoutError, ReplicationModeError, type LeaseLostReason, type StoreConfigurationError, type TokenExhaustedError } from './errors.js';
import { GENERATION_HOLDER, tokenGeneration } from './generation.js';
import { asPermanentStoreError } from './permanent-errors.js';
import { resolveLeaseOptions, type ResolvedLeaseOptions } from './options.js';
import { requireIssuableToken, toRecord } from './record.js';
import { runStatement } from './run-statement.js';
import { deadlineFromRead, renewalTimeout, selfFencingDeadline, renewRetryDelay } from './self-fencing.js';
import { leaseSql, type LeaseSql } from './sql.js';
import { instrumentLease } from './lease-metrics.js';
import { hotcoldMeter } from '../shared/telemetry.js';
import type {
  HeldLease,
  Lease,
  LeaseEvent,
  LeaseOptions,
  LeaseRecord,
  LeaseState,
  LeaseStatus,
  LeaseStore,
  ReplicationInfo,
  SqlExecutor,
  StatementResult,
} from './types.js';

/** The engine's view of one tenure: from a successful acquire to loss or release. */
interface Tenure {
  readonly token: number;
  readonly controller: AbortController;
  readonly handle: HeldLease;
  /** Monotonic ms after which this holder must not act (Infinity with self-fencing off). */
  deadline: number;
  nextRenewAt: number;
  failures: number;
}

interface Waiter {
  resolve(held: HeldLease): void;
  reject(error: unknown): void;
}

function sameReplication(a: ReplicationInfo | undefined, b: ReplicationInfo | undefined): boolean {
  return a === b || (a !== undefined && b !== undefined && a.mode === b.mode && a.generation === b.generation && a.detail === b.detail);
}

function errorText(error: unknown, store?: LeaseStore): string {
  return redactText(error instanceof Error ? error.message : String(error), store?.secrets);
}

/**
 * Creates the leader-lease engine. Nothing touches the database until `acquire()`.
 *
 * One loop per engine does everything, so there is at most one lease statement in flight: while
 * a standby, it reads the row and attempts a compare-and-set takeover when the row is free or
 * expired by the database clock; while active, it renews every `updateInterval`. A separate timer
 * enforces the self-fencing deadline, and `isValid()` checks it synchronously.
 *
 * @param options - The store, this machine's name, the mode and the intervals; see {@link LeaseOptions}.
 * @throws {ConfigurationError} when an option is invalid (naming the field).
 * @example
 * ```ts
 * import { createLease, sqliteStore } from 'hotcold/lease';
 *
 * const store = sqliteStore('/var/lib/app/app.db');
 * const lease = createLease({ store, machineName: 'node-a', mode: 'warm' });
 * const held = await lease.acquire();
 * await store.transaction(async (tx) => {
 *   await lease.assertHeld(tx, held.token);
 *   await tx.execute('UPDATE accounts SET balance = balance - ? WHERE id = ?', [10, 'A']);
 * });
 * await lease.close();
 * await store.close();
 * ```
 */
export function createLease(options: LeaseOptions): Lease {
  const { store, options: resolved, telemetry, warnings, logger } = resolveLeaseOptions(options);
  const lease = new LeaseEngine(store, resolved, warnings, logger);
  // Always instrumented: on the global provider this is a no-op until the application registers
  // an SDK. The instruments stop observing when the lease closes.
  instrumentLease(lease, hotcoldMeter(telemetry));
  return lease;
}

class LeaseEngine implements Lease {
  readonly name: string;
  readonly holderId: string;
  readonly options: ResolvedLeaseOptions;
  readonly store: LeaseStore;
  readonly state$: Observable<LeaseState>;
  readonly events$: Observable<LeaseEvent>;

  private readonly stateSubject: BehaviorSubject<LeaseState>;
  private readonly eventSubject = new Subject<LeaseEvent>();
  private readonly sql: LeaseSql;
  private tenure: Tenure | undefined;
  private waiters = new Set<Waiter>();
  /** Whether the loop should keep contending/renewing. */
  private wanted = false;
  private closed = false;
  private closing: Promise<void> | undefined;
  private loop: Promise<void> | undefined;
  /** The loop's step in progress: release() waits for it, not for the loop, which a new acquire() keeps going. */
  private step: Promise<void> | undefined;
  private wakeLoop: (() => void) | undefined;
  private deadlineTimer: TimerHandle | undefined;
  private readonly clock: LeaseClock;
  private tableReady = false;
  /** The release-notification subscription while contending (resolves to its unsubscribe). */
  private watching: Promise<(() => Promise<void>) | undefined> | undefined;
  /**
   * The token a takeover of ours would have produced when its answer never came (timeout, killed
   * connection): adopted if a later read shows the row ours with that token. Kept until a read
   * shows the token taken by someone else, since the attempt may still be waiting in the database.
   */
  private pendingTakeover: number | undefined;
  /** Monotonic time contention began (for `acquired.waitedMs`). */
  private contendingSince = 0;
  /**
   * Whether the store's replication mode is known: false at start, after a lease statement
   * failed (the pool may have reconnected, to another server) and after a generation change.
   */
  private replicationChecked = false;
  private readonly log: Log;

  constructor(store: LeaseStore, options: ResolvedLeaseOptions, warnings: string[], logger: Logger | undefined) {
    this.store = store;
    this.log = new Log(logger, 'lease', store.secrets);
    this.options = options;
    this.name = options.name;
    this.holderId = `${options.machineName}#${randomBytes(6).toString('hex')}`;
    this.sql = leaseSql(store.dialect, store.table);
    this.clock = options.clock;
    this.stateSubject = new BehaviorSubject<LeaseState>({ status: 'standby', since: this.clock.now() });
    this.state$ = this.stateSubject.asObservable();
    this.events$ = this.eventSubject.asObservable();
    if (warnings.length > 0) {
      // Events only, no console: a library does not write to the console behind its user's back
      // (and "once per process" would need module-level state). Deferred so that a subscriber
      // attached right after createLease() sees it.
      queueMicrotask(() => {
        for (const message of warnings) this.emit({ type: 'warning', message });
      });
    }
  }

  get state(): LeaseState {
    return this.stateSubject.getValue();
  }

  get current(): HeldLease | undefined {
    return this.tenure?.handle;
  }

  // ---------------------------------------------------------------- public operations

  acquire(options: { signal?: AbortSignal } = {}): Promise<HeldLease> {
    const signal = options.signal;
    if (this.closed || this.closing) return Promise.reject(new LeaseClosedError());
    if (signal?.aborted) return Promise.reject(signal.reason);
    const tenure = this.tenure;
    if (tenure && tenure.handle.isValid()) return Promise.resolve(tenure.handle);
    return new Promise<HeldLease>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters.delete(waiter);
        reject(signal?.reason);
        // Nobody is waiting any more and we hold nothing: stop contending.
        if (this.waiters.size === 0 && !this.tenure) {
          this.wanted = false;
          if (this.state.status === 'acquiring') this.setState('standby');
          this.wake();
        }
      };
      const waiter: Waiter = {
        resolve: (held) => {
          signal?.removeEventListener('abort', onAbort);
          resolve(held);
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      this.waiters.add(waiter);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (!this.wanted) {
        this.wanted = true;
        this.contendingSince = this.clock.now();
      }
      this.ensureLoop();
    });
  }

  async release(): Promise<void> {
    const tenure = this.tenure;
    this.wanted = false;
    if (!tenure) {
      // Not holding: stop contending; callers still waiting learn why.
      this.rejectWaiters(new LeaseLostError(`lease '${this.name}' was released before it was acquired`, this.state.token ?? 0, 'released'));
      if (this.state.status === 'acquiring' || this.state.status === 'standby') this.setState('standby');
      this.wake();
      await this.step;
      return;
    }
    // Stop acting first, then clear the row: never the other way round.
    this.endTenure(tenure, 'released', `lease '${this.name}' released (token ${tenure.token})`);
    this.setState('released', { holder: undefined, token: tenure.token });
    this.wake();
    // Not waiting for a renewal that may be in flight: the release is conditional on our holder and
    // token, so whichever lands first, a late renewal cannot undo it.
    // A planned handover that fails once (a statement bound hit under load, a dropped connection)
    // would cost the standby a whole waitInterval: retry transient failures until the row would
    // have expired anyway. Each retry is conditional on our holder and token, so it is harmless.
    const giveUpAt = this.clock.now() + this.options.waitInterval;
    for (;;) {
      try {
        const { changes } = await this.statement(this.sql.release, [this.name, this.holderId, tenure.token]);
        // Bounded: a NOTIFY commits too, and a commit can wait on an absent synchronous standby.
        if (changes === 1 && this.store.notifyRelease) await this.bounded(this.store.notifyRelease(this.name), 'release notification').catch((error: unknown) => this.dropped('notifying the release', error));
        break;
      } catch (error) {
        const retryMs = Math.min(50, this.options.updateInterval);
        const last = asPermanentStoreError(error, `lease '${this.name}'`) !== undefined || this.clock.now() + retryMs >= giveUpAt || this.closed;
        this.emit({
          type: 'warning',
          message: last
            ? `release of token ${tenure.token} failed (the lease will expire by itself after waitInterval): ${errorText(error, this.store)}`
            : `release of token ${tenure.token} failed, retrying: ${errorText(error, this.store)}`,
        });
        if (last) break;
        await new Promise<void>((resolve) => this.clock.setTimer(resolve, retryMs));
      }
    }
    await this.step;
    this.emit({ type: 'released', token: tenure.token });
  }

  async assertHeld(tx: SqlExecutor, token?: number): Promise<void> {
    const tenure = this.tenure;
    const presented = token ?? tenure?.token;
    if (presented === undefined) {
      throw new FencingError(`lease '${this.name}' is not held by this node`, this.name, undefined, this.state.token);
    }
    if (tenure?.token === presented && !tenure.handle.isValid()) {
      throw new FencingError(`fenced: token ${presented} of lease '${this.name}' passed its self-fencing deadline`, this.name, presented, undefined);
    }
    // The row must name us too: a token is ours only together with our holder id.
    await this.store.assertHeld(tx, this.name, presented, this.holderId);
  }

  close(): Promise<void> {
    this.closing ??= this.doClose();
    return this.closing;
  }

  private async doClose(): Promise<void> {
    if (this.tenure) await this.release();
    this.closed = true;
    this.wanted = false;
    this.wake();
    await this.loop;
    this.clearDeadlineTimer();
    this.rejectWaiters(new LeaseClosedError());
    this.setState('closed', { holder: undefined });
    this.stateSubject.complete();
    this.eventSubject.complete();
  }

  // ---------------------------------------------------------------- the loop

  private ensureLoop(): void {
    if (this.loop || this.closed) return;
    this.loop = this.run().finally(() => {
      this.loop = undefined;
      // acquire() may have asked again while the loop was on its way out.
      if (this.wanted && !this.closed) this.ensureLoop();
    });
  }

  private async run(): Promise<void> {
    try {
      while (this.wanted && !this.closed) {
        const tenure = this.tenure;
        this.step = tenure ? this.renewStep(tenure) : this.contendStep();
        await this.step;
      }
    } finally {
      await this.stopWatching();
    }
  }

  /** Subscribes to release notifications where the store offers them (an accelerator only). */
  private startWatching(): void {
    if (this.watching || !this.store.watchReleases) return;
    this.watching = this.store.watchReleases(this.name, () => this.wake()).catch((error: unknown) => this.dropped('watching for releases', error));
  }

  private async stopWatching(): Promise<void> {
    const watching = this.watching;
    this.watching = undefined;
    // Not awaited: a subscription still connecting must not hold up close() or a takeover.
    void watching?.then((unwatch) => unwatch?.()).catch((error: unknown) => this.dropped('unwatching releases', error));
  }

  /** One standby step: read the row, take it if free or expired, else sleep until it may be. */
  private async contendStep(): Promise<void> {
    const waiting: LeaseStatus = this.options.mode === 'cold' ? 'acquiring' : 'standby';
    if (this.state.status !== waiting) this.setState(waiting);
    this.startWatching();
    let record: LeaseRecord | null;
    let readSentAt: number;
    try {
      // The replication check first: a refusal (requireSynchronousReplication) writes nothing,
      // not even the table — whose DDL commit would wait forever on an absent synchronous standby.
      if (!this.replicationChecked) {
        const refusal = await this.checkReplication();
        if (refusal) return this.failPermanently(refusal);
      }
      if (!this.tableReady) {
        // init() reads the catalog first and runs no DDL for a table a DBA created, so a
        // least-privilege user gets here without the CREATE privilege.
        // Bounded like every store round trip: its DDL commits, and a commit can wait on a
        // synchronous standby that is not there (statement_timeout does not end that wait).
        await this.bounded(this.store.init(), 'lease table init');
        this.tableReady = true;
      }
      // Read first, create the row only if it is missing: MariaDB's upsert locks an existing row
      // exclusively, and a starting standby waiting for that lock behind a running call's fence
      // would make every later call's fence queue behind it.
      readSentAt = this.clock.now();
      record = await this.readRow();
      if (!record) {
        await this.statement(this.sql.ensureRow, [this.name]);
        return;
      }
    } catch (error) {
      const permanent = asPermanentStoreError(error, `lease '${this.name}'`);
      if (permanent) return this.failPermanently(permanent);
      this.replicationChecked = false;
      this.emit({ type: 'warning', message: `lease '${this.name}': reading the lease row failed: ${errorText(error, this.store)}` });
      await this.nap(this.options.pollInterval);
      return;
    }
    if (!this.wanted || this.closed) return;

    const pending = this.pendingTakeover;
    if (pending !== undefined && record.token >= pending) {
      this.pendingTakeover = undefined;
      if (record.holder === this.holderId && record.token === pending && record.expiresInMs > 0) {
        // A takeover of ours committed although its answer was lost. WHICH attempt is unknown:
        // several may have waited on a row lock, and PostgreSQL's clock_timestamp() and MariaDB's
        // UTC_TIMESTAMP() stamp renewed_at when the statement STARTS, before the wait. No send
        // time of ours is known to precede that stamp, but this read's is: the database said how
        // long is left when the read ran, which was after we sent it. Renew at once.
        const now = this.clock.now();
        this.becomeActive(pending, deadlineFromRead(readSentAt, record.expiresInMs), now);
        return;
      }
    }

    if (tokenGeneration(record.token) < (record.generation ?? 0)) {
      // The database failed over since the row was last written: mark it, so that nobody acquires
      // before every holder of the old generation has fenced itself (see generation.ts).
      await this.enterGeneration(record);
      return;
    }

    if (record.holder === null || record.expiresInMs <= 0) {
      let token: number;
      try {
        token = requireIssuableToken(this.name, record.token, 1, record.generation);
      } catch (error) {
        return this.failPermanently(error as TokenExhaustedError);
      }
      const sentAt = this.clock.now();
      let changes: number;
      try {
        changes = (await this.statement(this.sql.acquire, [this.holderId, this.options.waitInterval, this.name, record.version])).changes;
      } catch (error) {
        const permanent = asPermanentStoreError(error, `lease '${this.name}'`);
        if (permanent) return this.failPermanently(permanent);
        this.replicationChecked = false;
        // The takeover may or may not have committed (or may still, once a lock it waits on goes);
        // a later read tells: we would be the holder with this token.
        this.pendingTakeover = token;
        this.emit({ type: 'warning', message: `lease '${this.name}': takeover attempt failed: ${errorText(error, this.store)}` });
        await this.nap(this.options.pollInterval);
        return;
      }
      if (changes === 1) {
        if (!this.wanted || this.closed) {
          // Asked to stop while the takeover was in flight: hand it straight back.
          // A failure leaves a row that expires by itself after waitInterval.
          await this.statement(this.sql.release, [this.name, this.holderId, token]).catch((error: unknown) => this.dropped('handing back a late takeover', error));
          return;
        }
        // This answer is this attempt's own: its stamp was taken after `sentAt`.
        this.pendingTakeover = undefined;
        this.becomeActive(token, selfFencingDeadline(sentAt, this.options.waitInterval), sentAt + this.options.updateInterval);
      }
      // changes === 0: someone else changed the row first (maybe an earlier attempt of ours that
      // was still waiting; pendingTakeover then adopts it); read again at once.
      return;
    }

    this.setState(this.state.status, { holder: record.holder, token: record.token });
    // Wake exactly at the expiry the database reported (+1 ms for its resolution), but re-read
    // at least every pollInterval so that a release() is noticed quickly.
    await this.nap(Math.min(record.expiresInMs + 1, this.options.pollInterval));
  }

  /**
   * Marks a row of an older failover generation (generation.ts, step 2): held by nobody that can
   * act, until `waitInterval` (the larger of the row's and ours) has passed on the new primary's
   * clock. Only a compare-and-set on the version read: one engine marks, the others re-read.
   */
  private async enterGeneration(record: LeaseRecord): Promise<void> {
    const previousGeneration = tokenGeneration(record.token);
    this.replicationChecked = false;
    try {
      const { changes } = await this.statement(this.sql.enterGeneration, [GENERATION_HOLDER, this.options.waitInterval, this.name, record.version]);
      if (changes === 1) {
        this.emit({
          type: 'generation-changed',
          generation: record.generation ?? 0,
          previousGeneration,
          waitIntervalMs: Math.max(record.waitIntervalMs, this.options.waitInterval),
        });
      }
    } catch (error) {
      const permanent = asPermanentStoreError(error, `lease '${this.name}'`);
      if (permanent) return this.failPermanently(permanent);
      this.emit({ type: 'warning', message: `lease '${this.name}': marking the failover generation failed: ${errorText(error, this.store)}` });
      await this.nap(this.options.pollInterval);
    }
  }

  /**
   * Asks the store how commits are replicated (bounded by `statementTimeoutMs`), publishes it on
   * `state$` and `events$`, and returns the refusal `requireSynchronousReplication` calls for.
   */
  private async checkReplication(): Promise<ReplicationModeError | undefined> {
    let info: ReplicationInfo;
    try {
      info = this.store.replication
        ? await this.bounded(this.store.replication(), 'replication check')
        : { mode: 'unknown', generation: 0, detail: 'the store does not report replication' };
    } catch (error) {
      // Only a refusal needs the answer: without the option a failed check (a slow catalog read
      // under load, a missing privilege) must not keep a standby from contending.
      if (this.options.requireSynchronousReplication) throw error;
      info = { mode: 'unknown', generation: 0, detail: `the replication check failed: ${errorText(error, this.store)}` };
    }
    this.replicationChecked = true;
    this.setState(this.state.status, { replication: info });
    this.emit({ type: 'replication', replication: info });
    // Synchronous with no standby connected: every commit (the takeover, each renewal) would wait
    // until one connects — refuse at start rather than contend into commits that never return.
    if (this.options.requireSynchronousReplication && (info.mode !== 'synchronous' || info.standbyConnected === false)) {
      this.replicationChecked = false;
      return new ReplicationModeError(this.name, info);
    }
    return undefined;
  }

  /**
   * A fault no retry can cure (driver missing, login refused, no such database, wrong table,
   * missing privilege): every `acquire()` waiting rejects with it and contention stops; a later
   * `acquire()` tries again from the start.
   */
  private failPermanently(error: StoreConfigurationError): void {
    // Permanent errors already name the lease (they are built with its context): no second prefix.
    const text = errorText(error, this.store);
    const prefix = `lease '${this.name}': `;
    // A fault no retry cures, found in a background loop: without a logger it goes to stderr,
    // since a node contending in the background would otherwise stop without a word.
    if (this.log.enabled || !(this.stateSubject.observed || this.eventSubject.observed)) {
      this.log.fault('error', { lease: this.name, error: text }, 'lease store misconfigured; contention stopped');
    }
    this.publish({ type: 'warning', message: text.startsWith(prefix) ? text : prefix + text });
    this.wanted = false;
    this.tableReady = false;
    this.rejectWaiters(error);
    if (this.state.status === 'acquiring') this.setState('standby', { reason: errorText(error, this.store) });
  }

  /**
   * Starts a tenure. `deadline` is the self-fencing deadline the caller proved (see
   * self-fencing.ts): ignored with self-fencing off.
   */
  private becomeActive(token: number, deadline: number, nextRenewAt: number): void {
    const unsafe = this.options.unsafeDisableSelfFencing;
    if (!unsafe && this.clock.now() >= deadline) {
      // The answer came back after its own deadline (a long pause): the row may be someone else's
      // by now. Never start acting on it; keep contending (we get a new token once it expires).
      this.emit({ type: 'warning', message: `lease '${this.name}': token ${token} was acquired too late to use (process paused?); contending again` });
      return;
    }
    const controller = new AbortController();
    const tenure: Tenure = {
      token,
      controller,
      deadline: unsafe ? Number.POSITIVE_INFINITY : deadline,
      nextRenewAt,
      failures: 0,
      handle: {
        token,
        signal: controller.signal,
        isValid: () => this.checkValid(tenure),
        remainingMs: () => (this.checkValid(tenure) ? Math.max(0, tenure.deadline - this.clock.now()) : 0),
      },
    };
    this.tenure = tenure;
    this.armDeadlineTimer(tenure);
    void this.stopWatching();
    this.setState('active', { holder: this.holderId, token });
    this.emit({ type: 'acquired', token, waitedMs: Math.max(0, this.clock.now() - this.contendingSince) });
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.resolve(tenure.handle);
  }

  /** One holder step: wait for the renewal time, renew, and judge the answer. */
  private async renewStep(tenure: Tenure): Promise<void> {
    const wait = tenure.nextRenewAt - this.clock.now();
    if (wait > 0) {
      // No replication check here: a holder runs nothing but its renewals (one more statement
      // could queue in a busy pool ahead of a renewal). It is checked before the next acquisition.
      await this.nap(wait);
      return;
    }
    const sentAt = this.clock.now();
    const retryDelay = renewRetryDelay(this.options.updateInterval, this.options.waitInterval);
    let result: StatementResult;
    try {
      const timeoutMs = renewalTimeout(sentAt, tenure.deadline, this.options.statementTimeoutMs, retryDelay);
      result = await this.statement(this.sql.renew, [this.options.waitInterval, this.name, this.holderId, tenure.token], timeoutMs);
    } catch (error) {
      if (this.tenure !== tenure) return;
      this.replicationChecked = false;
      tenure.failures += 1;
      tenure.nextRenewAt = this.clock.now() + retryDelay;
      this.emit({ type: 'renew-failed', token: tenure.token, error: errorText(error, this.store), consecutive: tenure.failures });
      return;
    }
    if (this.tenure !== tenure) return;
    // Judged in the order things happened, not the order they are handled: an answer handled after
    // the deadline (its timer not yet run: a loaded event loop) comes to a lease that had already
    // lapsed by its own clock. That lapse is the cause (self-fenced), even when the database, which
    // saw the expiry too, rejected the renewal; a success cannot undo the fencing either.
    if (!this.checkValid(tenure)) return;
    if (result.changes !== 1) {
      this.lose(tenure, 'superseded', `lease '${this.name}' lost: renewal of token ${tenure.token} was rejected (taken over, forced, expired by the database clock, or the database failed over)`);
      return;
    }
    if (!this.options.unsafeDisableSelfFencing) tenure.deadline = selfFencingDeadline(sentAt, this.options.waitInterval);
    tenure.failures = 0;
    tenure.nextRenewAt = sentAt + this.options.updateInterval;
    this.armDeadlineTimer(tenure);
    this.emit({ type: 'renewed', token: tenure.token, latencyMs: this.clock.now() - sentAt });
  }

  // ---------------------------------------------------------------- self-fencing

  /** Synchronous validity: also the moment a passed deadline is noticed, before any timer. */
  private checkValid(tenure: Tenure): boolean {
    if (this.tenure !== tenure || tenure.controller.signal.aborted) return false;
    if (this.clock.now() < tenure.deadline) return true;
    this.lose(tenure, 'self-fenced', `lease '${this.name}' lost: no renewal of token ${tenure.token} succeeded within the self-fencing deadline`);
    return false;
  }

  private armDeadlineTimer(tenure: Tenure): void {
    this.clearDeadlineTimer();
    if (!Number.isFinite(tenure.deadline)) return;
    // Timers may fire a little early: re-check and re-arm rather than trust the firing.
    this.deadlineTimer = this.clock.setTimer(() => {
      this.deadlineTimer = undefined;
      if (this.checkValid(tenure)) this.armDeadlineTimer(tenure);
    }, Math.max(0, Math.ceil(tenure.deadline - this.clock.now())));
  }

  private clearDeadlineTimer(): void {
    this.deadlineTimer?.clear();
    this.deadlineTimer = undefined;
  }

  private endTenure(tenure: Tenure, reason: LeaseLostReason, message: string): void {
    if (this.tenure === tenure) this.tenure = undefined;
    this.clearDeadlineTimer();
    tenure.controller.abort(new LeaseLostError(message, tenure.token, reason));
  }

  private lose(tenure: Tenure, reason: LeaseLostReason, message: string): void {
    if (this.tenure !== tenure) return;
    this.endTenure(tenure, reason, message);
    this.emit({ type: 'lost', token: tenure.token, reason: message, cause: reason });
    if (this.options.mode === 'warm' && this.wanted && !this.closed) {
      // Hot-warm: back to standby, contend again (a new tenure gets a new token).
      this.contendingSince = this.clock.now();
      this.setState('standby', { holder: undefined, token: tenure.token, reason: message });
    } else {
      // Cold: stay lost; the operator (or the application calling acquire() again) decides.
      this.wanted = false;
      this.setState('lost', { holder: undefined, token: tenure.token, reason: message });
    }
    this.wake();
  }

  // ---------------------------------------------------------------- plumbing

  private async readRow(): Promise<LeaseRecord | null> {
    const { rows } = await this.statement(this.sql.read, [this.name]);
    const row = rows[0];
    return row === undefined ? null : toRecord(this.name, row);
  }

  /** Runs one lease statement with a timeout (default `statementTimeoutMs`), on the store's autocommit path if any. */
  private statement(sql: string, params: readonly unknown[], timeoutMs = this.options.statementTimeoutMs): Promise<StatementResult> {
    return this.bounded(runStatement(this.store, sql, params, timeoutMs), 'lease statement', timeoutMs);
  }

  /** `running`, or a `LeaseTimeoutError` after `timeoutMs` (default `statementTimeoutMs`). */
  private async bounded<T>(running: Promise<T>, what: string, timeoutMs = this.options.statementTimeoutMs): Promise<T> {
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.clock.setTimer(() => reject(new LeaseTimeoutError(what, timeoutMs)), timeoutMs);
    });
    try {
      return await Promise.race([running, timeout]);
    } finally {
      timer?.clear();
      // A statement abandoned by the timeout may still fail later: never an unhandled rejection.
      running.catch(() => undefined);
    }
  }

  private nap(ms: number): Promise<void> {
    if (!this.wanted || this.closed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        timer.clear();
        if (this.wakeLoop === done) this.wakeLoop = undefined;
        resolve();
      };
      const timer = this.clock.setTimer(done, Math.max(0, ms));
      this.wakeLoop = done;
    });
  }

  private wake(): void {
    this.wakeLoop?.();
  }

  private rejectWaiters(error: Error): void {
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.reject(error);
  }

  private setState(status: LeaseStatus, patch: Partial<Omit<LeaseState, 'status' | 'since'>> = {}): void {
    const previous = this.stateSubject.getValue();
    if (previous.status === 'closed') return;
    const next: LeaseState = {
      status,
      holder: 'holder' in patch ? patch.holder : previous.holder,
      token: 'token' in patch ? patch.token : previous.token,
      since: previous.status === status ? previous.since : this.clock.now(),
      reason: 'reason' in patch ? patch.reason : previous.status === status ? previous.reason : undefined,
      replication: 'replication' in patch ? patch.replication : previous.replication,
    };
    if (
      next.status === previous.status &&
      next.holder === previous.holder &&
      next.token === previous.token &&
      next.reason === previous.reason &&
      sameReplication(next.replication, previous.replication)
    ) {
      return;
    }
    this.stateSubject.next(next);
  }

  private emit(event: LeaseEvent): void {
    this.logEvent(event);
    this.publish(event);
  }

  private publish(event: LeaseEvent): void {
    if (!this.eventSubject.closed) this.eventSubject.next(event);
  }

  /**
   * Each event's log record. A lost lease is a fault a holder may not see otherwise (nobody
   * watching `signal`): it goes to stderr without a logger. The rest only to a given logger.
   */
  private logEvent(event: LeaseEvent): void {
    if (event.type === 'lost') {
      // An application watching state$ or events$ sees the loss and its reason: not silent.
      if (!this.log.enabled && (this.stateSubject.observed || this.eventSubject.observed)) return;
      this.log.fault('error', { lease: this.name, holder: this.holderId, epoch: event.token, reason: event.reason }, 'lease lost; stopped acting');
      return;
    }
    if (!this.log.enabled) return;
    const base = { lease: this.name, holder: this.holderId };
    switch (event.type) {
      case 'acquired':
        this.log.info({ ...base, epoch: event.token, waitedMs: Math.round(event.waitedMs) }, 'lease acquired');
        return;
      case 'renewed':
        this.log.debug({ ...base, epoch: event.token, latencyMs: Math.round(event.latencyMs) }, 'lease renewed');
        return;
      case 'renew-failed':
        this.log.warn({ ...base, epoch: event.token, consecutive: event.consecutive, error: event.error }, 'lease renewal failed; retrying');
        return;
      case 'released':
        this.log.info({ ...base, epoch: event.token }, 'lease released');
        return;
      case 'warning':
        this.log.warn({ ...base, detail: event.message }, 'lease warning');
        return;
      case 'replication':
        this.log.debug({ ...base, replication: event.replication }, 'lease store replication checked');
        return;
      case 'generation-changed':
        this.log.warn({ ...base, generation: event.generation, previousGeneration: event.previousGeneration, waitIntervalMs: event.waitIntervalMs }, 'database failed over; nobody acquires for waitInterval');
        return;
    }
  }

  /** A background step's failure that changes nothing (an accelerator, a best-effort cleanup). */
  private dropped(what: string, error: unknown): undefined {
    if (this.log.enabled) this.log.debug({ lease: this.name, error: errorText(error, this.store) }, `${what} failed (ignored)`);
    return undefined;
  }
}
