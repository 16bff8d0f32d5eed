import { monotonicNow } from '../shared/clock.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';

/**
 * The time source of a lease engine: every instant it measures (send times, self-fencing
 * deadlines, renewal schedule, statement timeouts, naps) and every timer it arms goes through
 * one of these. The default is the process's monotonic clock and real timers; a test can pass a
 * manual clock to drive the engine's policy without sleeping.
 */
export interface LeaseClock {
  /** Monotonic milliseconds (any origin); must never go backwards. */
  now(): number;
  /** Runs `fn` once after `delayMs` ms of this clock (any delay, incl. Infinity = never). */
  setTimer(fn: () => void, delayMs: number): TimerHandle;
}

export type { TimerHandle };

/** `performance.now()` and `setTimer` (src/shared/timer.ts). */
export const systemClock: LeaseClock = Object.freeze({ now: monotonicNow, setTimer });
