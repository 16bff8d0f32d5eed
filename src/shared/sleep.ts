import { setTimer } from './timer.js';

/**
 * Sleeps `ms`, rejecting with the signal's reason the moment it aborts. The timer is cleared on
 * abort, so an aborted sleep leaves no handle behind. Any delay works (see {@link setTimer}).
 */
export function sleep(ms: number, signal?: AbortSignal, options: { unref?: boolean } = {}): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.clear();
      reject(signal?.reason);
    };
    const timer = setTimer(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    if (options.unref) timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
