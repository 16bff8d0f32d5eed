/**
 * The whole-call deadline, measured on the monotonic clock (a wall-clock step must not shorten
 * or stretch a call).
 *
 * Pipeline use: `const deadline = new Deadline(method.deadlineMs ?? options.deadlineMs)` when a
 * call starts; per attempt, `timeoutMs = Math.min(methodTimeout, deadline.remaining())`; hand it
 * to `retryAfterFailure`, which refuses a retry whose backoff sleep would reach the deadline.
 * `signal()` is lazy — only a caller that asks for it pays for a timer — and `dispose()` (call it
 * in the call's `finally`) clears that timer, so a finished call leaves no handle behind.
 */
import { DeadlineExceededException } from '../errors.js';
import { monotonicNow } from '../shared/clock.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';

export class Deadline {
  /** Monotonic time at which the deadline passes (`Infinity`: never). */
  readonly at: number;
  private controller: AbortController | undefined;
  private timer: TimerHandle | undefined;

  /** `ms` from `startedAt` (default: now, on `clock`); `Infinity` for a deadline that never passes. */
  constructor(
    readonly ms: number,
    private readonly clock: () => number = monotonicNow,
    startedAt: number = clock(),
  ) {
    this.at = startedAt + ms;
  }

  /** Milliseconds left, never negative. */
  remaining(): number {
    return Math.max(0, this.at - this.clock());
  }

  expired(): boolean {
    return this.clock() >= this.at;
  }

  /**
   * An AbortSignal that aborts (with a {@link DeadlineExceededException}) when the deadline
   * passes. The timer is ref'd — it bounds a call its caller awaits, so a call whose only pending
   * work is a function that never settles must still end at its deadline rather than let the
   * process exit — and {@link dispose} (in the call's `finally`) clears it.
   */
  signal(): AbortSignal {
    if (this.controller) return this.controller.signal;
    const controller = new AbortController();
    this.controller = controller;
    const left = this.remaining();
    if (left <= 0) controller.abort(this.exception());
    else this.armAbort(controller, left);
    return controller.signal;
  }

  /**
   * Node's timers run on the event loop's cached whole-millisecond clock, so one may fire up to a
   * millisecond before the monotonic clock says the deadline passed: re-arm for the rest, so the
   * signal never aborts while `expired()` is still false.
   */
  private armAbort(controller: AbortController, delayMs: number): void {
    this.timer = setTimer(() => {
      this.timer = undefined;
      const left = this.remaining();
      if (left > 0) this.armAbort(controller, left);
      else controller.abort(this.exception());
    }, delayMs);
  }

  private exception(): DeadlineExceededException {
    return new DeadlineExceededException(`call deadline of ${this.ms} ms passed`);
  }

  /** Clears the signal's timer, if one was made. Idempotent. */
  dispose(): void {
    this.timer?.clear();
    this.timer = undefined;
  }
}
