import type { BatchObservableCallback, Meter, Observable } from '@opentelemetry/api';

/**
 * Registers `callback` for `observables` on `meter` and returns `finish()`. After `finish()` the
 * callback runs at ONE more collection — so the closed lease or stopped node reports its final
 * state — and is then removed. Why not remove it at once: the SDK keeps reporting an
 * asynchronous instrument's series with the last value collected (cumulative temporality), so
 * without that last observation a closed lease would read `active` forever.
 */
export function observeUntilFinished(meter: Meter, callback: BatchObservableCallback, observables: Observable[]): () => void {
  let finished = false;
  let removed = false;
  const remove = (): void => {
    if (removed) return;
    removed = true;
    meter.removeBatchObservableCallback(wrapped, observables);
  };
  const wrapped: BatchObservableCallback = (result) => {
    if (removed) return;
    // Not during the collection that is iterating the callbacks.
    if (finished) queueMicrotask(remove);
    // The SDK awaits what an asynchronous callback returns: hand it back.
    return callback(result);
  };
  meter.addBatchObservableCallback(wrapped, observables);
  return () => {
    finished = true;
  };
}
