import { performance } from 'node:perf_hooks';

/**
 * Monotonic milliseconds: immune to wall-clock steps (NTP, operator, VM resume). Every interval
 * this library measures on its own side — deadlines, backoff, self-fencing — uses this.
 */
export function monotonicNow(): number {
  return performance.now();
}
