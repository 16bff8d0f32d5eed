/**
 * Rejects with the signal's reason when it aborts first; the promise itself is left to settle.
 * The node answers at the abort; the same abort makes the store discard the transaction's
 * connection, so a statement stuck on the database fails then rather than holding anything.
 */
export function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    // The raced promise exists already and may reject (a fence failing after the lease was lost):
    // it must never become an unhandled rejection, which would end the process.
    promise.catch(() => undefined);
    return Promise.reject(signal.reason);
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
