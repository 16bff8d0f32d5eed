import { randomUUID } from 'node:crypto';
import { isRPCException, RemoteCallException } from '../../errors.js';
import { monotonicNow } from '../../shared/clock.js';
import type { CallRecord } from './call-log.js';
import { setTimer } from '../../shared/timer.js';

/**
 * N concurrent callers, each making one keyed call after another until stopped. Every call gets
 * its own idempotency key (so the ledger can be checked per call) and is logged with its outcome
 * and, for failures, the client's classification.
 */

export type CallFn = (method: string, params: unknown, options: { idempotencyKey: string }) => Promise<unknown>;

export interface LoadOptions {
  callers: number;
  call: CallFn;
  method: string;
  /** Params of the `seq`-th call of caller `caller`, whose idempotency key is `key`. */
  params: (caller: number, seq: number, key: string) => unknown;
  /** Pause between one caller's calls (default 0: back to back). */
  pauseMs?: number;
  /**
   * Pause after a failed call (default 50 ms), as a real caller would back off. Without it a
   * client that fails fast (open breaker, pending limit) turns the callers into a loop of
   * promise jobs that never yields to timers or I/O.
   */
  failurePauseMs?: number;
  /** The fencing epoch an answer was executed under, if it says (recorded as `CallRecord.epoch`). */
  epochOf?: (result: unknown) => number | undefined;
  /** Called after every completed call (drives the live status line). */
  onCall?: (record: CallRecord) => void;
}

export interface LoadStats {
  ok: number;
  failed: number;
  inFlight: number;
  /** Monotonic time of the latest successful completion (undefined before the first). */
  lastOkAt: number | undefined;
}

export interface LoadRun {
  readonly records: readonly CallRecord[];
  stats(): LoadStats;
  /** Stops starting calls, waits for the ones in flight, returns the full log. */
  stop(): Promise<CallRecord[]>;
}

export function startLoad(options: LoadOptions): LoadRun {
  const run = randomUUID().slice(0, 8);
  const records: CallRecord[] = [];
  const stats: LoadStats = { ok: 0, failed: 0, inFlight: 0, lastOkAt: undefined };
  let stopping = false;
  const wakers = new Set<() => void>();

  const caller = async (index: number): Promise<void> => {
    for (let seq = 0; !stopping; seq++) {
      const key = `${run}-${index}-${seq}`;
      const startedAt = monotonicNow();
      stats.inFlight += 1;
      let record: CallRecord;
      try {
        const result = await options.call(options.method, options.params(index, seq, key), { idempotencyKey: key });
        const endedAt = monotonicNow();
        stats.ok += 1;
        stats.lastOkAt = endedAt;
        record = { key, method: options.method, startedAt, endedAt, outcome: 'ok' };
        const epoch = options.epochOf?.(result);
        if (epoch !== undefined) record.epoch = epoch;
      } catch (error) {
        stats.failed += 1;
        record = {
          key,
          method: options.method,
          startedAt,
          endedAt: monotonicNow(),
          outcome: 'failed',
          errorKind: isRPCException(error) ? error.kind : 'other',
          // A non-RPCException failure makes no claim: treat it as "may have run".
          mayHaveExecuted: isRPCException(error) ? error.mayHaveExecuted : true,
          attempts: isRPCException(error) ? error.attempts : undefined,
          code: error instanceof RemoteCallException ? error.code : undefined,
          message: error instanceof Error ? error.message : String(error),
        };
      } finally {
        stats.inFlight -= 1;
      }
      records.push(record);
      options.onCall?.(record);
      const pause = record.outcome === 'failed' ? (options.failurePauseMs ?? 50) : (options.pauseMs ?? 0);
      if (pause > 0 && !stopping) {
        await new Promise<void>((resolve) => {
          const wake = (): void => {
            timer.clear();
            wakers.delete(wake);
            resolve();
          };
          const timer = setTimer(wake, pause);
          wakers.add(wake);
        });
      } else {
        // Yield to timers and I/O between calls even when every call settles at once.
        await new Promise<void>((resolve) => setImmediate(resolve));
      }
    }
  };
  const done = Promise.all(Array.from({ length: options.callers }, (_, i) => caller(i)));

  return {
    records,
    stats: () => ({ ...stats }),
    async stop() {
      stopping = true;
      for (const wake of wakers) wake();
      wakers.clear();
      await done;
      return records;
    },
  };
}

/**
 * The longest time without a successful completion between `from` and `to` (monotonic ms): the
 * outage as the clients lived it. With many concurrent callers, completions are dense in normal
 * operation, so the longest gap is the service interruption.
 */
export function longestOkGap(records: readonly CallRecord[], from: number, to: number): { gapMs: number; start: number; end: number } {
  const okTimes = records.filter((r) => r.outcome === 'ok').map((r) => r.endedAt).sort((a, b) => a - b);
  let previous = from;
  let best = { gapMs: 0, start: from, end: from };
  for (const t of okTimes) {
    if (t < from) {
      previous = t;
      continue;
    }
    if (t > to) break;
    if (t - previous > best.gapMs) best = { gapMs: t - previous, start: previous, end: t };
    previous = t;
  }
  return best;
}

/** The slowest successful or failed call that ended in [from, to]. */
export function slowestCallMs(records: readonly CallRecord[], from = -Infinity, to = Infinity): number {
  let slowest = 0;
  for (const r of records) if (r.endedAt >= from && r.endedAt <= to) slowest = Math.max(slowest, r.endedAt - r.startedAt);
  return slowest;
}
