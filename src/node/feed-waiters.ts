/**
 * Wakes long-polls when this node commits an append. Appends only happen on the active node,
 * and a feed request is only served by the active node, so a local wake-up covers the common
 * case; the long-poll still re-reads the table every `pollIntervalMs` for anything else (e.g.
 * rows written by another process through the same tables).
 */
import { setTimer } from '../shared/timer.js';
export class FeedWaiters {
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly all = new Set<() => void>();

  /** Resolves on a wake-up for `feed`, after `ms`, or when `signal` aborts — never rejects. */
  wait(feed: string, ms: number, signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      let set = this.waiters.get(feed);
      if (!set) {
        set = new Set();
        this.waiters.set(feed, set);
      }
      const done = (): void => {
        timer.clear();
        signal.removeEventListener('abort', done);
        set.delete(done);
        this.all.delete(done);
        if (set.size === 0 && this.waiters.get(feed) === set) this.waiters.delete(feed);
        resolve();
      };
      const timer = setTimer(done, ms);
      signal.addEventListener('abort', done, { once: true });
      set.add(done);
      this.all.add(done);
    });
  }

  wake(feed: string): void {
    const set = this.waiters.get(feed);
    if (set) for (const done of [...set]) done();
  }

  wakeAll(): void {
    for (const done of [...this.all]) done();
  }
}
