/**
 * The signal axios's Node `http` adapter gets for one attempt, in place of the attempt's own
 * `AbortSignal`. That one is an AbortController made per attempt, plus an `abort` listener added
 * and removed on it by axios: on the success path, the largest cost the policy added to a request
 * (node's `createAbortSignal` led the profile of a 64-caller loop). This one is a plain object
 * that the pipeline tells when it ends the attempt (its timeout, the caller's abort, close():
 * `onEnded`), with the same reason the AbortSignal would carry; axios takes any object with
 * `aborted` and `addEventListener`/`removeEventListener` (its `GenericAbortSignal`), and its http
 * adapter only reads `aborted` and adds one listener. Other adapters (fetch, your own) may hand
 * the signal to an API that wants a real AbortSignal: they still get the attempt's own.
 */
import type { AttemptContext } from './policy-api.js';

type AbortListener = (this: AttemptSignal, event: { readonly type: 'abort' }) => void;

/** What hears of the attempt's end before its abort listeners (the attempt's evidence). */
export interface EndObserver {
  attemptEnded(): void;
}

/** The pipeline's end notice of an attempt it times (internal to hotcold: not on AttemptContext's type). */
interface EndNotice {
  onEnded(watcher: { attemptEnded(error: Error): void }): boolean;
}

export class AttemptSignal {
  /** Set when the pipeline ended the attempt; never reset (one attempt, one signal). */
  aborted = false;
  /** The pipeline's reason: a `TimeoutError` or `AbortError` DOMException, as the AbortSignal would carry. */
  reason: unknown = undefined;
  onabort: AbortListener | null = null;
  /** axios adds one listener: a slot for it, an array only beyond it. */
  private first: AbortListener | undefined = undefined;
  private more: AbortListener[] | undefined = undefined;

  /** Told first when the pipeline ends the attempt, before the abort tears the request down. */
  private readonly observer: EndObserver | undefined;

  private constructor(observer: EndObserver | undefined) {
    this.observer = observer;
  }

  /**
   * A signal the pipeline ends, or undefined when it does not give that notice (then use
   * `context.signal`). `observer` hears of the end before the abort listeners (axios's, which
   * destroys the request): the attempt's evidence is read as it stood.
   */
  static of(context: AttemptContext, observer?: EndObserver): AttemptSignal | undefined {
    const notice = context as Partial<EndNotice>;
    if (typeof notice.onEnded !== 'function') return undefined;
    const signal = new AttemptSignal(observer);
    return notice.onEnded(signal) ? signal : undefined;
  }

  addEventListener(type: string, listener: unknown): void {
    if (type !== 'abort' || typeof listener !== 'function' || this.aborted) return;
    if (this.first === undefined) this.first = listener as AbortListener;
    else (this.more ??= []).push(listener as AbortListener);
  }

  removeEventListener(type: string, listener: unknown): void {
    if (type !== 'abort') return;
    if (this.first === listener) {
      this.first = this.more?.shift();
      return;
    }
    const i = this.more?.indexOf(listener as AbortListener) ?? -1;
    if (i >= 0) this.more?.splice(i, 1);
  }

  /** @internal The pipeline ended the attempt: abort, once. */
  attemptEnded(error: Error): void {
    if (this.aborted) return;
    this.observer?.attemptEnded();
    this.aborted = true;
    this.reason = error;
    const listeners = [this.first, ...(this.more ?? []), this.onabort ?? undefined];
    this.first = undefined;
    this.more = undefined;
    const event = { type: 'abort' } as const;
    for (const listener of listeners) {
      if (listener === undefined) continue;
      try {
        listener.call(this, event);
      } catch (thrown) {
        // As an EventTarget does: a listener's exception is reported, not swallowed, and does not
        // keep the other listeners from hearing the abort.
        process.nextTick(() => {
          throw thrown;
        });
      }
    }
  }
}
