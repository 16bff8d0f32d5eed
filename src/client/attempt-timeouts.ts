/**
 * The signal a transport of yours gets for one attempt (`TransportRequest.signal`): it aborts on
 * the call's signal (the caller's abort, `close()`) and at the attempt's `timeoutMs`, so a
 * transport that ends its work when its signal aborts needs no timer of its own. Made only when
 * the transport reads it: the pipeline does not race attempts of a client (a race is a promise and
 * a timer per call, several times the rest of the success path in memory), so a transport that
 * reads neither `timeoutMs` nor `signal` must end its attempts by itself.
 */
import { setTimer, type TimerHandle } from '../shared/timer.js';

/** One attempt's timed signal; `dispose()` once the attempt settled. */
export class TimedAttemptSignal {
  private readonly controller = new AbortController();
  private readonly timer: TimerHandle;
  private disposed = false;

  constructor(
    private readonly owner: AttemptTimeouts,
    private readonly callSignal: AbortSignal,
    timeoutMs: number,
  ) {
    owner.live.add(this);
    if (callSignal.aborted) this.controller.abort(callSignal.reason);
    else callSignal.addEventListener('abort', this.onCallAbort, { once: true });
    this.timer = setTimer(() => {
      // As `AbortSignal.timeout` aborts: a TimeoutError DOMException.
      this.controller.abort(new DOMException(`the attempt's timeout of ${timeoutMs} ms passed`, 'TimeoutError'));
      this.dispose();
    }, timeoutMs);
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  private readonly onCallAbort = (): void => {
    this.controller.abort(this.callSignal.reason);
    this.dispose();
  };

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.timer.clear();
    this.callSignal.removeEventListener('abort', this.onCallAbort);
    this.owner.live.delete(this);
  }
}

/** A client's timed attempt signals: those still live are disposed on `close()`. */
export class AttemptTimeouts {
  /** @internal */
  readonly live = new Set<TimedAttemptSignal>();
  /** Each attempt's signal, for {@link AttemptTimeouts.reasonFor}. */
  private readonly byAttempt = new WeakMap<object, TimedAttemptSignal>();

  signalFor(attempt: object, callSignal: AbortSignal, timeoutMs: number): TimedAttemptSignal {
    const timed = new TimedAttemptSignal(this, callSignal, timeoutMs);
    this.byAttempt.set(attempt, timed);
    return timed;
  }

  /**
   * Why `attempt` ended, when its signal aborted: a transport that ends its attempt on the signal
   * may reject with its own error (node:http's AbortError, axios's CanceledError), but the attempt
   * ended for the signal's reason — its timeout, or the call's abort. Read on the failure path only.
   */
  reasonFor(attempt: object): unknown {
    const timed = this.byAttempt.get(attempt);
    return timed !== undefined && timed.signal.aborted ? timed.signal.reason : undefined;
  }

  /** Disposes every signal still live (their attempts are ended by close() anyway). */
  close(): void {
    for (const timed of [...this.live]) timed.dispose();
  }
}
