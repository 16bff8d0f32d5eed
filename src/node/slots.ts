/**
 * A counting semaphore for request transactions. The node's transactions share the store's
 * connection pool with the lease engine: if every pooled connection is held by a request
 * transaction (waiting on row locks behind each other), the renewal waits for a connection,
 * times out, and the node fences itself under load. Capping concurrent transactions below the
 * pool size keeps a connection free for the lease.
 */
export class Slots {
  private active = 0;
  private readonly queue: Array<() => void> = [];

  constructor(
    private readonly limit: number,
    /** Told how long each call waited for its slot (metrics); `now` is the clock it is measured on. */
    private readonly observer?: { now(): number; waited(waitedMs: number, queued: boolean, granted: boolean): void },
  ) {}

  async run<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) {
      const since = this.observer?.now() ?? 0;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.queue.indexOf(grant);
          if (i >= 0) this.queue.splice(i, 1);
          this.observer?.waited(this.observer.now() - since, true, false);
          reject(signal.reason);
        };
        const grant = (): void => {
          signal.removeEventListener('abort', onAbort);
          this.observer?.waited(this.observer.now() - since, true, true);
          resolve();
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.queue.push(grant);
      });
    } else {
      this.active += 1;
      this.observer?.waited(0, false, true);
    }
    try {
      return await fn();
    } finally {
      const next = this.queue.shift();
      // Hand the slot straight to the next waiter (active stays the same), or free it.
      if (next) next();
      else this.active -= 1;
    }
  }
}
