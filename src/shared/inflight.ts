/**
 * The attempts a transport has in flight, and the two things that end them from outside: their
 * timeout and their caller's signal. One timer serves every attempt (armed for the earliest
 * expiry, through `setTimer`) and one listener serves every attempt sharing a signal — a client
 * passes its close() signal to every call made without one of its own — so a request arms no
 * timer, and adds an `abort` listener only when no other attempt in flight shares its signal.
 * With one listener per attempt, `addEventListener` walks the list of the others first, which
 * grows with concurrency. The attempts are linked into an intrusive list (each carries its own
 * links), as the pipeline's RacedAttempts are: no hashing per attempt, and no hash table of the
 * registry's (long-lived) rebuilt as short-lived attempts come and go. Measured with a stub in
 * place of grpc-js (64 concurrent calls through grpcInterceptor), a Set here cost about 6 µs
 * more per call, nearly all of it in the garbage collector.
 */
import { monotonicNow } from './clock.js';
import { setTimer, type TimerHandle } from './timer.js';

/** What the registry needs from an attempt. */
export interface Tracked {
  /** Monotonic ms (`performance.now()`) at which the attempt times out; `Infinity`: never. */
  readonly expiresAt: number;
  /** The caller's signal, if any. */
  readonly signal: AbortSignal | undefined;
  /** The timeout passed. */
  expire(): void;
  /** The signal aborted. */
  abort(reason: unknown): void;
  /** The registry's links (set by it only; `undefined`/`false` before it sees the attempt). */
  inflightPrev: Tracked | undefined;
  inflightNext: Tracked | undefined;
  inflightLinked: boolean;
}

/** The attempts sharing one signal, behind the one listener on it (EventListener object form). */
class SignalWatchers<T extends Tracked> {
  readonly attempts = new Set<T>();

  constructor(private readonly signal: AbortSignal) {}

  handleEvent(): void {
    const reason: unknown = this.signal.reason;
    for (const attempt of [...this.attempts]) attempt.abort(reason);
  }
}

export class InflightAttempts<T extends Tracked> {
  /** The attempts in flight, oldest first. */
  private head: T | undefined = undefined;
  private tail: T | undefined = undefined;
  private count = 0;
  private readonly bySignal = new Map<AbortSignal, SignalWatchers<T>>();
  private timer: TimerHandle | undefined;
  /** When the timer fires; `Infinity` when none is armed. */
  private armedAt = Infinity;

  constructor(private readonly now: () => number = monotonicNow) {}

  get size(): number {
    return this.count;
  }

  /** A copy, oldest first: ending an attempt removes it from the registry. */
  snapshot(): T[] {
    const copy: T[] = [];
    for (let attempt = this.head; attempt !== undefined; attempt = attempt.inflightNext as T | undefined) copy.push(attempt);
    return copy;
  }

  add(attempt: T): void {
    // The caller awaits this attempt and the timer is what ends it: while any attempt is in
    // flight the timer holds the process open (delete() lets it go once none is).
    if (attempt.inflightLinked) return;
    if (this.count === 0) this.timer?.ref();
    attempt.inflightLinked = true;
    attempt.inflightPrev = this.tail;
    attempt.inflightNext = undefined;
    if (this.tail === undefined) this.head = attempt;
    else this.tail.inflightNext = attempt;
    this.tail = attempt;
    this.count++;
    const signal = attempt.signal;
    if (signal !== undefined) {
      let watchers = this.bySignal.get(signal);
      if (watchers === undefined) {
        watchers = new SignalWatchers<T>(signal);
        this.bySignal.set(signal, watchers);
        signal.addEventListener('abort', watchers);
      }
      watchers.attempts.add(attempt);
    }
    // Equal timeouts expire in start order, so a new attempt is almost never the earliest: the
    // armed timer stays as it is.
    if (attempt.expiresAt < this.armedAt) this.arm(attempt.expiresAt);
  }

  /**
   * The attempt ended. Its expiry stays armed if it was the earliest: when the timer fires it
   * finds nothing due and re-arms for the earliest attempt still in flight.
   */
  delete(attempt: T): void {
    if (!this.unlink(attempt)) return;
    if (this.count === 0) this.timer?.unref();
    const signal = attempt.signal;
    if (signal === undefined) return;
    const watchers = this.bySignal.get(signal);
    if (watchers === undefined) return;
    watchers.attempts.delete(attempt);
    if (watchers.attempts.size === 0) {
      signal.removeEventListener('abort', watchers);
      this.bySignal.delete(signal);
    }
  }

  /** Drops the timer and every signal listener (the transport closed; its attempts have ended). */
  dispose(): void {
    this.timer?.clear();
    this.timer = undefined;
    this.armedAt = Infinity;
    for (const [signal, watchers] of this.bySignal) signal.removeEventListener('abort', watchers);
    this.bySignal.clear();
    for (let attempt = this.head; attempt !== undefined; ) {
      const next = attempt.inflightNext as T | undefined;
      this.unlink(attempt);
      attempt = next;
    }
  }

  /** Takes `attempt` out of the list; false if it was not in it. */
  private unlink(attempt: T): boolean {
    if (!attempt.inflightLinked) return false;
    attempt.inflightLinked = false;
    const prev = attempt.inflightPrev as T | undefined;
    const next = attempt.inflightNext as T | undefined;
    if (prev === undefined) this.head = next;
    else prev.inflightNext = next;
    if (next === undefined) this.tail = prev;
    else next.inflightPrev = prev;
    attempt.inflightPrev = undefined;
    attempt.inflightNext = undefined;
    this.count--;
    return true;
  }

  private arm(at: number): void {
    this.timer?.clear();
    this.armedAt = at;
    // Rounded up: Node's timers count whole ms, and an attempt must not expire before its time.
    // Ref'd while an attempt is in flight: it bounds a promise the caller awaits, and an attempt
    // need not hold a ref'd handle of its own (a request queued behind a busy agent, a hook
    // that never settles). delete() unrefs it once none is, so an idle client exits.
    this.timer = setTimer(() => this.fire(), Math.ceil(at - this.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.armedAt = Infinity;
    const now = this.now();
    const due: T[] = [];
    let next = Infinity;
    for (let attempt = this.head; attempt !== undefined; attempt = attempt.inflightNext as T | undefined) {
      if (attempt.expiresAt <= now) due.push(attempt);
      else if (attempt.expiresAt < next) next = attempt.expiresAt;
    }
    // In expiry order, should a busy event loop have let several fall due at once.
    if (due.length > 1) due.sort((a, b) => a.expiresAt - b.expiresAt);
    for (const attempt of due) attempt.expire();
    // An attempt added while the due ones ended armed the timer itself if it was earlier.
    if (next < this.armedAt) this.arm(next);
  }
}
