import type { HeldLease } from '../lease/types.js';
import type { NodeClock } from './node-clock.js';

/**
 * Calls `onLost` once when `held` stops being valid: on its abort signal, or when its self-fencing
 * deadline passes on `clock` — whichever comes first. The signal alone is not enough: it is
 * driven by the lease engine, whose renewal may itself be stuck on a frozen database, while the
 * deadline is what `isValid()` (and `/health`) already report. Returns the unsubscribe function.
 */
export function watchLease(held: HeldLease, clock: NodeClock, onLost: () => void): () => void {
  let done = false;
  let timer: { clear(): void } | undefined;
  const lost = (): void => {
    if (done) return;
    stop();
    onLost();
  };
  const arm = (): void => {
    if (done) return;
    if (!held.isValid()) return lost();
    // The deadline moves forward with every renewal: look again when the current one is due.
    timer = clock.setTimer(arm, Math.max(1, held.remainingMs() + 1));
  };
  const stop = (): void => {
    done = true;
    timer?.clear();
    held.signal.removeEventListener('abort', lost);
  };
  if (held.signal.aborted) {
    lost();
    return stop;
  }
  held.signal.addEventListener('abort', lost, { once: true });
  arm();
  return stop;
}
