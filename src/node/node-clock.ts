import { monotonicNow } from '../shared/clock.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';

/**
 * The node's view of time: a monotonic clock and a way to arm a timer on it. Injected so tests of
 * deadlines (a caller's `X-Hotcold-Timeout-Ms`, drain timeouts, the acquire loop's back-off) can
 * move time by hand instead of sleeping in real time.
 */
export interface NodeClock {
  /** Monotonic milliseconds (only differences mean anything). */
  now(): number;
  /** Runs `fn` once after `delayMs` (any delay, Infinity = never); see `setTimer`. */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
}

/** Real time: `performance.now()` and the library's one timer helper. */
export const systemClock: NodeClock = Object.freeze({ now: monotonicNow, setTimer });

/** Resolves after `ms` on `clock`, or at once (without rejecting) when `signal` aborts. */
export function pause(clock: NodeClock, ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = (): void => {
      timer.clear();
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = clock.setTimer(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
