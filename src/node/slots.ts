/**
 * What a transaction slot is taken for. `call`: a JSON-RPC call (its wait is measured);
 * `cleanup`: the node's own background work (the idempotency cleanup); `feed`: one read of a
 * `hotcold.feed` long-poll, which may hold at most {@link Slots.feedLimit} slots at once.
 */
export type SlotUse = 'call' | 'cleanup' | 'feed';

/**
 * A counting semaphore for every node transaction: calls, feed reads and the idempotency cleanup.
 * The node's transactions share the store's connection pool with the lease engine: if every
 * pooled connection is held (or queued for) by node transactions, the renewal waits for a
 * connection, times out, and the node fences itself under load. Capping concurrent transactions
 * below the pool size keeps a connection free for the lease.
 *
 * Feed long-polls are many and long-lived (each re-reads its feed every `pollIntervalMs` while it
 * waits): they may hold at most half of the slots (at least one), so that calls always find one
 * too. With no limit (SQLite, one connection serialising everything anyway) feed reads take one
 * slot at a time, so a call waits behind at most one feed read, not behind every waiting long-poll.
 */
export class Slots {
  private active = 0;
  private feedActive = 0;
  private readonly queue: Array<{ use: SlotUse; grant: () => void }> = [];
  /** Most slots feed reads hold at once: half of `limit` (at least 1); 1 when `limit` is unbounded. */
  readonly feedLimit: number;

  constructor(
    private readonly limit: number,
    /** Told how long each call waited for its slot (metrics); `now` is the clock it is measured on. */
    private readonly observer?: { now(): number; waited(waitedMs: number, queued: boolean, granted: boolean): void },
  ) {
    this.feedLimit = Number.isFinite(limit) ? Math.max(1, Math.floor(limit / 2)) : 1;
  }

  /** Slots held now, by use (for tests and diagnostics). */
  get held(): { total: number; feed: number } {
    return { total: this.active, feed: this.feedActive };
  }

  private free(use: SlotUse): boolean {
    return this.active < this.limit && (use !== 'feed' || this.feedActive < this.feedLimit);
  }

  private take(use: SlotUse): void {
    this.active += 1;
    if (use === 'feed') this.feedActive += 1;
  }

  /**
   * Hands freed slots to the first waiters that may take one, in arrival order — except that a
   * slot a feed read frees goes first to a waiting call or cleanup: feed reads and calls take
   * turns. Otherwise, with one slot (feed reads' share is then that slot), a call waited behind
   * every feed read queued before it: one per waiting long-poll.
   */
  private pump(freedByFeed: boolean): void {
    let preferOthers = freedByFeed;
    for (;;) {
      let i = preferOthers ? this.queue.findIndex((w) => w.use !== 'feed' && this.free(w.use)) : -1;
      preferOthers = false;
      if (i < 0) i = this.queue.findIndex((w) => this.free(w.use));
      if (i < 0) return;
      const [waiter] = this.queue.splice(i, 1);
      if (!waiter) return;
      this.take(waiter.use);
      waiter.grant();
    }
  }

  /**
   * Runs `fn` holding a slot for `use`; waits for one first when none is free. Rejects with
   * `signal.reason` (and never runs `fn`) when `signal` aborts while it waits.
   */
  async run<T>(signal: AbortSignal, fn: () => Promise<T>, use: SlotUse = 'call'): Promise<T> {
    const observer = use === 'call' ? this.observer : undefined;
    if (this.free(use)) {
      this.take(use);
      observer?.waited(0, false, true);
    } else {
      const since = observer?.now() ?? 0;
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.queue.indexOf(waiter);
          if (i >= 0) this.queue.splice(i, 1);
          observer?.waited(observer.now() - since, true, false);
          reject(signal.reason);
        };
        const waiter = {
          use,
          grant: (): void => {
            signal.removeEventListener('abort', onAbort);
            observer?.waited(observer.now() - since, true, true);
            resolve();
          },
        };
        if (signal.aborted) return onAbort();
        signal.addEventListener('abort', onAbort, { once: true });
        this.queue.push(waiter);
      });
    }
    try {
      return await fn();
    } finally {
      this.active -= 1;
      if (use === 'feed') this.feedActive -= 1;
      this.pump(use === 'feed');
    }
  }
}
