import { monotonicNow } from '../../shared/clock.js';
import { setTimer } from '../../shared/timer.js';

/**
 * A FIFO async mutex. better-sqlite3 is synchronous and one connection has one transaction at a
 * time: while an async `transaction(fn)` awaits, nothing else may run on that connection, or its
 * statements would land inside the open transaction.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    return this.runBefore(Number.POSITIVE_INFINITY, () => new Error('unreachable'), fn);
  }

  /**
   * As {@link run}, but gives up waiting for its turn at `deadline` (monotonic ms): then
   * `onTimeout()` is thrown and `fn` never runs (its place in the queue passes straight on).
   * The wait in the queue counts against the same bound as the work, so a caller queued behind
   * others is not promised a fresh bound of its own.
   */
  async runBefore<T>(deadline: number, onTimeout: () => Error, fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let unlock!: () => void;
    this.tail = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    let timer: { clear(): void } | undefined;
    const myTurn = await new Promise<boolean>((resolve) => {
      void previous.then(() => resolve(true));
      if (Number.isFinite(deadline)) timer = setTimer(() => resolve(false), deadline - monotonicNow());
    });
    timer?.clear();
    if (!myTurn) {
      void previous.then(unlock);
      throw onTimeout();
    }
    try {
      return await fn();
    } finally {
      unlock();
    }
  }
}
