/**
 * The attempts a pipeline times itself (functions that may ignore their signal), and the one
 * timer that ends them: armed for the earliest expiry through `setTimer`, it stays armed when
 * that attempt finishes first and, when it fires, ends what is due and re-arms for the next. So
 * an attempt on the success path arms no timer and adds no listener (the pattern of
 * shared/inflight.ts), and is linked into an intrusive list: no hashing per attempt.
 */
import { monotonicNow } from '../shared/clock.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';

/** An entry of the list: the registry owns `prev`/`next`. */
export interface RacedEntry {
  /** Monotonic ms at which the attempt times out. */
  readonly expiresAt: number;
  prev: RacedEntry | undefined;
  next: RacedEntry | undefined;
  /** In the list now. */
  linked: boolean;
  /** The timeout passed. */
  expire(): void;
  /** The pipeline closed. */
  abort(reason: unknown): void;
}

export class RacedAttempts {
  private head: RacedEntry | undefined = undefined;
  private tail: RacedEntry | undefined = undefined;
  private timer: TimerHandle | undefined = undefined;
  /** When the timer fires; `Infinity` when none is armed. */
  private armedAt = Infinity;

  constructor(private readonly now: () => number = monotonicNow) {}

  add(entry: RacedEntry): void {
    // The caller awaits this attempt, and the timer is what ends it should the function never
    // settle: while any attempt is pending the timer holds the process open (see delete()).
    if (this.head === undefined) this.timer?.ref();
    entry.prev = this.tail;
    entry.next = undefined;
    if (this.tail === undefined) this.head = entry;
    else this.tail.next = entry;
    this.tail = entry;
    entry.linked = true;
    // Equal timeouts expire in start order: a new attempt is almost never the earliest.
    if (entry.expiresAt < this.armedAt) this.arm(entry.expiresAt);
  }

  delete(entry: RacedEntry): void {
    if (!entry.linked) return;
    entry.linked = false;
    if (entry.prev === undefined) this.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) this.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.prev = undefined;
    entry.next = undefined;
    // Nothing pending: the timer stays armed (it re-arms on firing) but an idle pipeline must
    // not hold the process open.
    if (this.head === undefined) this.timer?.unref();
  }

  /** Ends every attempt (close()) and drops the timer. */
  abortAll(reason: unknown): void {
    this.timer?.clear();
    this.timer = undefined;
    this.armedAt = Infinity;
    for (let entry = this.head; entry !== undefined; ) {
      const next = entry.next;
      this.delete(entry);
      entry.abort(reason);
      entry = next;
    }
  }

  private arm(at: number): void {
    this.timer?.clear();
    this.armedAt = at;
    // Rounded up: timers count whole ms, and an attempt must not expire before its time.
    // Ref'd: it bounds an attempt the caller awaits (a function that never settles would
    // otherwise let the process exit mid-call); delete() unrefs it once nothing is pending.
    this.timer = setTimer(() => this.fire(), Math.ceil(at - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.now();
    const due: RacedEntry[] = [];
    let next = Infinity;
    for (let entry = this.head; entry !== undefined; entry = entry.next) {
      if (entry.expiresAt <= now) due.push(entry);
      else if (entry.expiresAt < next) next = entry.expiresAt;
    }
    if (due.length > 1) due.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const entry of due) {
      this.delete(entry);
      entry.expire();
    }
    if (next < this.armedAt) this.arm(next);
  }
}
