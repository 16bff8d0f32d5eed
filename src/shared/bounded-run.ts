/**
 * Runs `run(signal)` bounded by `timeoutMs` and by `outer`, even when `run` ignores its signal:
 * the result rejects with `timedOut()` at the timeout, or with `outer`'s reason when it aborts,
 * and `run`'s own signal aborts then (or once it settled), so it can stop its work. A timer per
 * run: for probes and other failure-path work, not for the success path of a call.
 */
import { setTimer } from './timer.js';

export function boundedRun<T>(run: (signal: AbortSignal) => T | PromiseLike<T>, timeoutMs: number, outer: AbortSignal | undefined, timedOut: () => Error): Promise<T> {
  const controller = new AbortController();
  return new Promise<T>((resolve, reject) => {
    let done = false;
    const end = (settle: () => void): void => {
      if (done) return;
      done = true;
      timer.clear();
      outer?.removeEventListener('abort', onAbort);
      if (!controller.signal.aborted) controller.abort(new DOMException('run ended', 'AbortError'));
      settle();
    };
    const onAbort = (): void => end(() => reject(outer?.reason));
    const timer = setTimer(() => end(() => reject(timedOut())), timeoutMs);
    if (outer?.aborted) {
      onAbort();
      return;
    }
    outer?.addEventListener('abort', onAbort, { once: true });
    let pending: Promise<T>;
    try {
      pending = Promise.resolve(run(controller.signal));
    } catch (error) {
      end(() => reject(error));
      return;
    }
    pending.then(
      (result) => end(() => resolve(result)),
      (error: unknown) => end(() => reject(error)),
    );
  });
}
