import { setTimer } from '../../shared/timer.js';

/**
 * How long a store's `close()` waits for its connections to end gracefully before it destroys
 * them. A pool's `end()` waits for every checked-out connection, and ending a connection waits
 * for the server's answer: against a frozen (SIGSTOPped, partitioned) database both wait forever,
 * and a process that is shutting down would never exit.
 */
export const CLOSE_BOUND_MS = 2_000;

/** A socket that can be torn down without the peer's cooperation. */
export interface Destroyable {
  destroy(): void;
}

function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    // Ref'd: the caller awaits close(), and this timer is what bounds it; it is cleared the
    // moment the close settles, so it never holds an idle process open.
    const timer = setTimer(() => resolve(false), ms);
    promise.then(
      () => {
        timer.clear();
        resolve(true);
      },
      () => {
        timer.clear();
        resolve(true);
      },
    );
  });
}

/**
 * Runs `end()` (a graceful close); if it has not finished within `boundMs`, calls `destroy()` (tears
 * the sockets down) and waits at most `boundMs` more for `end()` to notice. Never rejects and
 * never waits longer than about 2 × `boundMs`.
 */
export async function endWithin(end: () => Promise<unknown>, destroy: () => void, boundMs = CLOSE_BOUND_MS): Promise<void> {
  const ending = end();
  if (await within(ending, boundMs)) return;
  destroy();
  await within(ending, boundMs);
}
