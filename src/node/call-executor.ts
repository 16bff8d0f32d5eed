import { FencingError, LeaseLostError } from '../lease/errors.js';
import type { HeldLease, Lease, SqlExecutor } from '../lease/types.js';
import { decideAnswer, type CallPhase, type CallStop } from './call-outcome.js';
import type { DedupStore } from './dedup-store.js';
import { certifiesNotCommitted, isInfrastructureFailure } from './failure-kind.js';
import type { FeedStore } from './feed-store.js';
import { watchLease } from './lease-watch.js';
import type { NodeClock } from './node-clock.js';
import { ImplicitCommitGuard, sealedExecutor, type StatementActivity } from './sealed-executor.js';
import type { Slots } from './slots.js';
import { isRetryableConflict } from './sql-dialect.js';
import type { HandlerContext, NodeEvent } from './types.js';
import { raceAbort } from '../shared/race-abort.js';
import { describeError as describe } from './describe-error.js';

/**
 * Call execution: one call, one fenced transaction together with its idempotency record and feed
 * appends, turned into an outcome value. No HTTP here.
 *
 * The outcome is decided the moment the call's fate is known, never later: when the lease is lost,
 * the caller's time is spent or the node stops, a call that has not sent COMMIT is answered "not
 * executed" at once. The same abort reaches the store (`transaction(fn, { signal })`), which
 * discards the connection instead of awaiting a ROLLBACK (the database rolls back when it sees the
 * socket close): the transaction slot and the pooled connection are free at once, even while the
 * database is frozen, and the abandoned transaction can never commit.
 */

export interface CallRequest {
  method: string;
  params: unknown;
  key: string | undefined;
  caller: string;
  handler: (params: never, ctx: HandlerContext) => unknown;
  /** The tenure the call runs under (checked valid by the caller just before). */
  held: HeldLease;
  /** When the caller's time is spent, in ms on the executor's clock; undefined = no limit. */
  deadline?: number | undefined;
}

export type CallOutcome =
  | { kind: 'result'; result: unknown }
  | { kind: 'stored'; result: unknown }
  | { kind: 'conflict'; reason: 'params' | 'caller' }
  | { kind: 'rpc-error'; code: number; message: string; data?: unknown }
  | { kind: 'not-executed'; error: 'NOT_EXECUTED' | 'EXPIRED'; reason: string }
  | { kind: 'commit-unknown'; reason: string };

export interface CallExecution {
  /** Settles with the answer as soon as it is decided (possibly before the transaction ends). */
  readonly outcome: Promise<CallOutcome>;
  /** Settles when the transaction has ended (committed, rolled back or failed). */
  readonly settled: Promise<void>;
  /** Ends the call as `stopped` (node stop, drain timeout): not executed unless COMMIT was sent. */
  stop(reason: string): void;
  /**
   * The caller went away (closed its connection): a call that has not started is dropped as
   * `expired` — nobody waits for it; one already running goes on (it may be a fire-and-forget).
   */
  abandon(): void;
}

export interface CallExecutorDeps {
  lease: Lease;
  dedup: DedupStore | undefined;
  feeds: FeedStore | undefined;
  slots: Slots;
  clock: NodeClock;
  /** The server-side bounds run first in each transaction (transaction-bounds.ts), if any. */
  prepare?: ((tx: SqlExecutor, capMs?: number) => Promise<void>) | undefined;
  /**
   * `idleInTransactionTimeoutMs`: the node ends a call whose handler leaves its transaction idle
   * (no statement of its own running) this long; undefined: no bound.
   */
  idleMs?: number | undefined;
  /** Destructured by execute(), so a property (must not need `this`), not a method. */
  emit: (event: NodeEvent) => void;
  /** Feeds that a committed call appended to (to wake their long-polls). */
  onCommittedAppends(feeds: readonly string[]): void;
}

type Committed = Extract<CallOutcome, { kind: 'result' | 'stored' | 'conflict' }> & { feeds?: string[] };

/** Why a call's controller aborted: the stop kind, with a reason for the event log. */
class CallStopped extends Error {
  constructor(
    readonly stop: 'lease-lost' | 'expired' | 'stopped' | 'idle',
    reason: string,
  ) {
    super(reason);
    this.name = 'CallStopped';
  }
}



/** Deadlock victims are rolled back by the database: nothing ran, so they run again (this often). */
const MAX_TRIES = 4;

export class CallExecutor {
  constructor(private readonly deps: CallExecutorDeps) {}

  /** Starts `call`; see {@link CallExecution}. Never rejects. */
  execute(call: CallRequest): CallExecution {
    const { lease, dedup, feeds, slots, clock, emit } = this.deps;
    const { held } = call;
    const token = held.token;
    const controller = new AbortController();
    const abort = (stop: CallStopped['stop'], reason: string): void => {
      if (!controller.signal.aborted) controller.abort(new CallStopped(stop, reason));
    };
    // Mutated inside the transaction callback; an object keeps TS from narrowing it.
    const state: { phase: CallPhase; decided: boolean } = { phase: 'not-started', decided: false };
    // Errors of the node's own statements (fence, dedup, feed append): never the handler's.
    const nodeFailures = new WeakSet<object>();
    let resolveOutcome!: (outcome: CallOutcome) => void;
    const outcome = new Promise<CallOutcome>((resolve) => (resolveOutcome = resolve));

    const finish = (value: CallOutcome): void => {
      if (state.decided) return;
      state.decided = true;
      resolveOutcome(value);
    };

    const stopOf = (error: unknown): CallStop & { reason: string } => {
      const reason: unknown = controller.signal.reason;
      if (controller.signal.aborted && reason instanceof CallStopped) return { kind: reason.stop, reason: reason.message };
      if (certifiesNotCommitted(error)) return { kind: 'not-committed', reason: describe(error) };
      // The fence refused this tenure, or the lease reported it lost: the lease module's classes say so.
      if (error instanceof FencingError || error instanceof LeaseLostError || !held.isValid()) {
        return { kind: 'lease-lost', reason: error instanceof Error ? describe(error) : 'the lease was lost before this call committed' };
      }
      if (typeof error === 'object' && error !== null && nodeFailures.has(error)) return { kind: 'infrastructure', reason: describe(error) };
      if (isInfrastructureFailure(error)) return { kind: 'infrastructure', reason: describe(error) };
      return { kind: 'handler-error', error, reason: describe(error) };
    };

    /** Decides the answer from where the call is now; a no-op once decided. */
    const decide = (error: unknown): void => {
      if (state.decided) return;
      const stop = stopOf(error);
      const answer = decideAnswer(state.phase, stop);
      switch (answer.kind) {
        case 'not-executed':
          emit({ type: 'rolled-back', method: call.method, reason: `${answer.error}: ${stop.reason}` });
          finish({ kind: 'not-executed', error: answer.error, reason: stop.reason });
          return;
        case 'commit-unknown':
          emit({ type: 'commit-unknown', method: call.method, error: stop.reason });
          finish({ kind: 'commit-unknown', reason: stop.reason });
          return;
        case 'rpc-error':
          if (stop.kind === 'handler-error' && answer.code === -32603) emit({ type: 'handler-error', method: call.method, error: stop.reason });
          finish(answer.data === undefined ? { kind: 'rpc-error', code: answer.code, message: answer.message } : answer);
          return;
        case 'committed':
          // Only reached through finish() with the committed value; nothing to decide here.
          return;
      }
    };

    /** Throws the reason the call must not go on, if any (synchronously: the lease's signal can be late). */
    const checkLive = (): void => {
      if (!held.isValid()) abort('lease-lost', 'the lease expired before this call committed');
      if (controller.signal.aborted) throw controller.signal.reason;
    };

    const nodeStep = <T>(promise: Promise<T>): Promise<T> =>
      promise.catch((error: unknown) => {
        if (typeof error === 'object' && error !== null) nodeFailures.add(error);
        throw error;
      });

    /**
     * The handler idle in its transaction (awaiting anything but its own statement) past `idleMs`
     * is ended as not executed: without a caller's deadline nothing else would end a handler
     * that never returns, and its transaction would hold its slot, its connection (SQLite: the
     * database's write lock) for ever while /health says active. PostgreSQL and MariaDB end such
     * a session themselves (transaction-bounds.ts); this is the same bound, noticed by the node.
     */
    const watchIdle = (idleMs: number): { activity: StatementActivity; stop(): void } => {
      const activity = { running: 0, since: clock.now() };
      let timer: { clear(): void } | undefined;
      let done = false;
      const check = (): void => {
        timer = undefined;
        if (done || state.phase !== 'running') return;
        const left = activity.running > 0 ? idleMs : activity.since + idleMs - clock.now();
        if (left > 0) timer = clock.setTimer(check, left);
        else abort('idle', `the handler left its transaction idle for ${idleMs} ms (idleInTransactionTimeoutMs) before this call committed`);
      };
      timer = clock.setTimer(check, idleMs);
      return {
        activity: {
          started: () => {
            activity.running += 1;
          },
          ended: () => {
            activity.running -= 1;
            activity.since = clock.now();
          },
        },
        stop: () => {
          done = true;
          timer?.clear();
        },
      };
    };

    const body = async (tx: SqlExecutor): Promise<Committed> => {
      let open = true;
      let idle: ReturnType<typeof watchIdle> | undefined;
      try {
        checkLive();
        if (this.deps.prepare) {
          // The server bounds each statement by the caller's remaining time too: a killed node cannot end it.
          const capMs = call.deadline === undefined ? undefined : call.deadline - this.deps.clock.now();
          await nodeStep(raceAbort(this.deps.prepare(tx, capMs), controller.signal));
        }
        await nodeStep(raceAbort(lease.assertHeld(tx, token), controller.signal));
        checkLive();
        if (call.key !== undefined && dedup) {
          const claim = await nodeStep(
            raceAbort(dedup.claim(tx, { key: call.key, caller: call.caller, method: call.method, params: call.params ?? null, token }), controller.signal),
          );
          if (claim.kind !== 'claimed') {
            checkLive();
            state.phase = 'commit-sent';
            return claim.kind === 'done' ? { kind: 'stored', result: claim.result } : claim;
          }
        }
        state.phase = 'running';
        if (this.deps.idleMs !== undefined) idle = watchIdle(this.deps.idleMs);
        const appended: string[] = [];
        // Everything the handler can reach goes through the seal, feed appends included: an
        // append is several statements, and one issued after a rollback must not autocommit.
        // MariaDB/MySQL: a handler's DDL would COMMIT the transaction implicitly (sealed-executor.ts).
        const guard = tx.dialect === 'mysql' ? new ImplicitCommitGuard() : undefined;
        const sealed = sealedExecutor(tx, () => open, idle?.activity, guard);
        const ctx: HandlerContext = {
          token,
          idempotencyKey: call.key,
          signal: controller.signal,
          tx: sealed,
          caller: call.caller,
          method: call.method,
          appendFeed: async (name: string, data: unknown): Promise<number> => {
            if (!feeds) throw new Error('feeds are disabled on this node (feeds: false)');
            if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new TypeError('feed name must be 1..200 characters');
            if (!open) throw new Error('the request transaction is over; the feed item was not appended');
            const seq = await nodeStep(feeds.append(sealed, name, data));
            if (!appended.includes(name)) appended.push(name);
            return seq;
          },
        };
        const result = await raceAbort(
          Promise.resolve().then(() => call.handler(call.params as never, ctx)),
          controller.signal,
        ).catch((error: unknown) => {
          throw guard?.refused ?? error;
        });
        // Refused and caught by the handler: nothing of the call may commit.
        if (guard?.refused) throw guard.refused;
        if (JSON.stringify(result ?? null) === undefined) throw new Error('handler result is not JSON-serialisable');
        if (call.key !== undefined && dedup) await nodeStep(raceAbort(dedup.complete(tx, call.key, result), controller.signal));
        checkLive();
        // From here on the store sends COMMIT: any later news is "commit unknown" until it answers.
        state.phase = 'commit-sent';
        return { kind: 'result', result, feeds: appended };
      } catch (error) {
        // Answer now, before the store's ROLLBACK (which may wait on a frozen database). A
        // deadlock victim is retried instead, after its (prompt) rollback.
        if (!isRetryableConflict(error)) decide(error);
        throw error;
      } finally {
        open = false;
        idle?.stop();
      }
    };

    const unwatch = watchLease(held, clock, () => abort('lease-lost', 'the lease was lost before this call committed'));
    let deadlineTimer: { clear(): void } | undefined;
    if (call.deadline !== undefined) {
      const left = call.deadline - clock.now();
      if (left <= 0) abort('expired', "the caller's time was spent before the call started");
      else deadlineTimer = clock.setTimer(() => abort('expired', "the caller's time ran out before the call committed"), left);
    }
    const onAbort = (): void => decide(controller.signal.reason);
    if (controller.signal.aborted) onAbort();
    else controller.signal.addEventListener('abort', onAbort, { once: true });

    const run = async (): Promise<void> => {
      for (let tries = 1; ; tries += 1) {
        try {
          if (controller.signal.aborted) return;
          // The signal reaches the store: once the call is given up on, its connection is discarded
          // and its slot freed at once, instead of when a frozen database answers the ROLLBACK.
          const committed = await slots.run(controller.signal, () => lease.store.transaction(body, { signal: controller.signal }));
          state.phase = 'committed';
          if (committed.kind === 'result' && committed.feeds && committed.feeds.length > 0) this.deps.onCommittedAppends(committed.feeds);
          // Committed: the answer is the result even if the lease was lost a moment later — unless
          // "commit unknown" was already answered while COMMIT was outstanding.
          finish(committed.kind === 'result' ? { kind: 'result', result: committed.result } : committed);
          return;
        } catch (error) {
          if (tries < MAX_TRIES && isRetryableConflict(error) && state.phase !== 'commit-sent' && !controller.signal.aborted && !state.decided) {
            state.phase = 'not-started';
            continue;
          }
          decide(error);
          return;
        }
      }
    };

    const settled = run().finally(() => {
      unwatch();
      deadlineTimer?.clear();
      controller.signal.removeEventListener('abort', onAbort);
    });
    return {
      outcome,
      settled,
      stop: (reason: string) => abort('stopped', reason),
      abandon: () => {
        if (state.phase === 'not-started') abort('expired', 'the caller closed its connection before the call started');
      },
    };
  }
}
