/**
 * A FIFO async mutex. better-sqlite3 is synchronous and one connection has one transaction at a
 * time: while an async `transaction(fn)` awaits, nothing else may run on that connection, or its
 * statements would land inside the open transaction.
 */
export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(fn: () => Promise<T> | T): Promise<T> {
    const previous = this.tail;
    let unlock!: () => void;
    this.tail = new Promise<void>((resolve) => {
      unlock = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      unlock();
    }
  }
}
