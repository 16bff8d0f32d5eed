import { randomBytes } from 'node:crypto';
import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { redactText } from '../shared/redact.js';
import { monotonicNow } from '../shared/clock.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';
import { FencingError, LeaseClosedError, LeaseLostError, LeaseTimeoutError, type LeaseLostReason } from './errors.js';
import { resolveLeaseOptions, type ResolvedLeaseOptions } from './options.js';
import { toRecord } from './record.js';
import { runStatement } from './run-statement.js';
import { selfFencingDeadline, renewalTimeout, renewRetryDelay } from './self-fencing.js';
import { leaseSql, type LeaseSql } from './sql.js';
import type {
  HeldLease,
  Lease,
  LeaseEvent,
  LeaseOptions,
  LeaseRecord,
  LeaseState,
  LeaseStatus,
  LeaseStore,
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

let warnedSlowRatio = false;

function errorText(error: unknown): string {
  return redactText(error instanceof Error ? error.message : String(error));
}

/**
 * Creates the leader-lease engine. Nothing touches the database until `acquire()`.
 *
 * One loop per engine does everything, so there is at most one lease statement in flight: while
 * a standby, it reads the row and attempts a compare-and-set takeover when the row is free or
 * expired by the database clock; while active, it renews every `updateInterval`. A separate timer
 * enforces the self-fencing deadline, and `isValid()` checks it synchronously.
 */
export function createLease(options: LeaseOptions): Lease {
  const { store, options: resolved, warnings } = resolveLeaseOptions(options);
  return new LeaseEngine(store, resolved, warnings);
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
  private deadlineTimer: NodeJS.Timeout | undefined;
  private tableReady = false;
  /** The release-notification subscription while contending (resolves to its unsubscribe). */
  private watching: Promise<(() => Promise<void>) | undefined> | undefined;
  /** A takeover whose answer never came: adopted if the next read shows it committed. */
  private unansweredAcquire: { token: number; sentAt: number } | undefined;
  /** Monotonic time contention began (for `acquired.waitedMs`). */
  private contendingSince = 0;

  constructor(store: LeaseStore, options: ResolvedLeaseOptions, warnings: string[]) {
    this.store = store;
    this.options = options;
    this.name = options.name;
    this.holderId = `${options.machineName}#${randomBytes(6).toString('hex')}`;
    this.sql = leaseSql(store.dialect, store.table);
    this.stateSubject = new BehaviorSubject<LeaseState>({ status: 'standby', since: monotonicNow() });
    this.state$ = this.stateSubject.asObservable();
    this.events$ = this.eventSubject.asObservable();
    if (warnings.length > 0) {
      if (!warnedSlowRatio) {
        warnedSlowRatio = true;
        for (const w of warnings) console.warn(`hotcold lease: ${w}`);
      }
      // Deferred so that a subscriber attached right after createLease() sees it.
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
        this.contendingSince = monotonicNow();
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
    try {
      const { changes } = await this.statement(this.sql.release, [this.name, this.holderId, tenure.token]);
      if (changes === 1) await this.store.notifyRelease?.(this.name).catch(() => undefined);
    } catch (error) {
      this.emit({
        type: 'warning',
        message: `release of token ${tenure.token} failed (the lease will expire by itself after waitInterval): ${errorText(error)}`,
      });
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
    await this.store.assertHeld(tx, this.name, presented);
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
    this.watching = this.store.watchReleases(this.name, () => this.wake()).catch(() => undefined);
  }

  private async stopWatching(): Promise<void> {
    const watching = this.watching;
    this.watching = undefined;
    // Not awaited: a subscription still connecting must not hold up close() or a takeover.
    void watching?.then((unwatch) => unwatch?.()).catch(() => undefined);
  }

  /** One standby step: read the row, take it if free or expired, else sleep until it may be. */
  private async contendStep(): Promise<void> {
    const waiting: LeaseStatus = this.options.mode === 'cold' ? 'acquiring' : 'standby';
    if (this.state.status !== waiting) this.setState(waiting);
    this.startWatching();
    let record: LeaseRecord | null;
    try {
      if (!this.tableReady) {
        // A least-privilege user cannot run CREATE TABLE (PostgreSQL checks the schema privilege
        // even with IF NOT EXISTS) although a DBA created the table: let ensureRow decide.
        await this.store.init().catch((error: unknown) => {
          this.emit({ type: 'warning', message: `lease '${this.name}': creating the lease table failed (using it if it exists): ${errorText(error)}` });
        });
        await this.statement(this.sql.ensureRow, [this.name]);
        this.tableReady = true;
      }
      record = await this.readRow();
      if (!record) {
        await this.statement(this.sql.ensureRow, [this.name]);
        return;
      }
    } catch (error) {
      this.emit({ type: 'warning', message: `lease '${this.name}': reading the lease row failed: ${errorText(error)}` });
      await this.nap(this.options.pollInterval);
      return;
    }
    if (!this.wanted || this.closed) return;

    const unanswered = this.unansweredAcquire;
    this.unansweredAcquire = undefined;
    if (unanswered && record.holder === this.holderId && record.token === unanswered.token && record.expiresInMs > 0) {
      // Our takeover committed although its answer was lost (connection killed, timeout). Its send
      // time is still a safe base for the deadline: the row was stamped after it.
      this.becomeActive(unanswered.token, unanswered.sentAt);
      return;
    }

    if (record.holder === null || record.expiresInMs <= 0) {
      const sentAt = monotonicNow();
      let changes = 0;
      try {
        changes = (await this.statement(this.sql.acquire, [this.holderId, this.options.waitInterval, this.name, record.version])).changes;
      } catch (error) {
        // The takeover may or may not have committed; the next read tells (we would be the holder).
        this.unansweredAcquire = { token: record.token + 1, sentAt };
        this.emit({ type: 'warning', message: `lease '${this.name}': takeover attempt failed: ${errorText(error)}` });
        await this.nap(this.options.pollInterval);
        return;
      }
      if (changes === 1) {
        if (!this.wanted || this.closed) {
          // Asked to stop while the takeover was in flight: hand it straight back.
          await this.statement(this.sql.release, [this.name, this.holderId, record.token + 1]).catch(() => undefined);
          return;
        }
        this.becomeActive(record.token + 1, sentAt);
      }
      // changes === 0: someone else changed the row first; read again at once.
      return;
    }

    this.setState(this.state.status, { holder: record.holder, token: record.token });
    // Wake exactly at the expiry the database reported (+1 ms for its resolution), but re-read
    // at least every pollInterval so that a release() is noticed quickly.
    await this.nap(Math.min(record.expiresInMs + 1, this.options.pollInterval));
  }

  private becomeActive(token: number, sentAt: number): void {
    const unsafe = this.options.unsafeDisableSelfFencing;
    if (!unsafe && monotonicNow() >= selfFencingDeadline(sentAt, this.options.waitInterval)) {
      // The answer came back after its own deadline (a long pause): the row may be someone else's
      // by now. Never start acting on it; keep contending (we get a new token once it expires).
      this.emit({ type: 'warning', message: `lease '${this.name}': token ${token} was acquired too late to use (process paused?); contending again` });
      return;
    }
    const controller = new AbortController();
    const tenure: Tenure = {
      token,
      controller,
      deadline: unsafe ? Number.POSITIVE_INFINITY : selfFencingDeadline(sentAt, this.options.waitInterval),
      nextRenewAt: sentAt + this.options.updateInterval,
      failures: 0,
      handle: {
        token,
        signal: controller.signal,
        isValid: () => this.checkValid(tenure),
        remainingMs: () => (this.checkValid(tenure) ? Math.max(0, tenure.deadline - monotonicNow()) : 0),
      },
    };
    this.tenure = tenure;
    this.armDeadlineTimer(tenure);
    void this.stopWatching();
    this.setState('active', { holder: this.holderId, token });
    this.emit({ type: 'acquired', token, waitedMs: Math.max(0, monotonicNow() - this.contendingSince) });
    const waiters = [...this.waiters];
    this.waiters.clear();
    for (const waiter of waiters) waiter.resolve(tenure.handle);
  }

  /** One holder step: wait for the renewal time, renew, and judge the answer. */
  private async renewStep(tenure: Tenure): Promise<void> {
    const wait = tenure.nextRenewAt - monotonicNow();
    if (wait > 0) {
      await this.nap(wait);
      return;
    }
    const sentAt = monotonicNow();
    const retryDelay = renewRetryDelay(this.options.updateInterval, this.options.waitInterval);
    let result: StatementResult;
    try {
      const timeoutMs = renewalTimeout(sentAt, tenure.deadline, this.options.statementTimeoutMs, retryDelay);
      result = await this.statement(this.sql.renew, [this.options.waitInterval, this.name, this.holderId, tenure.token], timeoutMs);
    } catch (error) {
      if (this.tenure !== tenure) return;
      tenure.failures += 1;
      tenure.nextRenewAt = monotonicNow() + retryDelay;
      this.emit({ type: 'renew-failed', token: tenure.token, error: errorText(error), consecutive: tenure.failures });
      return;
    }
    if (this.tenure !== tenure) return;
    if (result.changes !== 1) {
      this.lose(tenure, 'superseded', `lease '${this.name}' lost: renewal of token ${tenure.token} was rejected (taken over, forced, or expired by the database clock)`);
      return;
    }
    // A success that arrives after the deadline cannot undo the fencing that already applied.
    if (!tenure.handle.isValid()) return;
    if (!this.options.unsafeDisableSelfFencing) tenure.deadline = selfFencingDeadline(sentAt, this.options.waitInterval);
    tenure.failures = 0;
    tenure.nextRenewAt = sentAt + this.options.updateInterval;
    this.armDeadlineTimer(tenure);
    this.emit({ type: 'renewed', token: tenure.token, latencyMs: monotonicNow() - sentAt });
  }

  // ---------------------------------------------------------------- self-fencing

  /** Synchronous validity: also the moment a passed deadline is noticed, before any timer. */
  private checkValid(tenure: Tenure): boolean {
    if (this.tenure !== tenure || tenure.controller.signal.aborted) return false;
    if (monotonicNow() < tenure.deadline) return true;
    this.lose(tenure, 'self-fenced', `lease '${this.name}' lost: no renewal of token ${tenure.token} succeeded within the self-fencing deadline`);
    return false;
  }

  private armDeadlineTimer(tenure: Tenure): void {
    this.clearDeadlineTimer();
    if (!Number.isFinite(tenure.deadline)) return;
    // Timers may fire a little early: re-check and re-arm rather than trust the firing.
    this.deadlineTimer = setTimeout(() => {
      this.deadlineTimer = undefined;
      if (this.checkValid(tenure)) this.armDeadlineTimer(tenure);
    }, Math.max(0, Math.ceil(tenure.deadline - monotonicNow())));
  }

  private clearDeadlineTimer(): void {
    if (this.deadlineTimer) clearTimeout(this.deadlineTimer);
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
    this.emit({ type: 'lost', token: tenure.token, reason: message });
    if (this.options.mode === 'warm' && this.wanted && !this.closed) {
      // Hot-warm: back to standby, contend again (a new tenure gets a new token).
      this.contendingSince = monotonicNow();
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
  private async statement(sql: string, params: readonly unknown[], timeoutMs = this.options.statementTimeoutMs): Promise<StatementResult> {
    const running = runStatement(this.store, sql, params, timeoutMs);
    let timer: TimerHandle | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimer(() => reject(new LeaseTimeoutError('lease statement', timeoutMs)), timeoutMs);
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
        clearTimeout(timer);
        if (this.wakeLoop === done) this.wakeLoop = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
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
      since: previous.status === status ? previous.since : monotonicNow(),
      reason: 'reason' in patch ? patch.reason : previous.status === status ? previous.reason : undefined,
    };
    if (next.status === previous.status && next.holder === previous.holder && next.token === previous.token && next.reason === previous.reason) {
      return;
    }
    this.stateSubject.next(next);
  }

  private emit(event: LeaseEvent): void {
    if (!this.eventSubject.closed) this.eventSubject.next(event);
  }
}
