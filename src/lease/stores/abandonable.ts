import { CommitAbandonedError, TransactionAbandonedError } from '../errors.js';

/** How far a transaction got; written by the store's transaction code, read at the abort. */
export interface TransactionProgress {
  /** Set just before COMMIT goes to the server (never by a store whose COMMIT is in-process). */
  commitSent: boolean;
  /** Set once COMMIT is acknowledged: an abort after that changes nothing. */
  committed: boolean;
  /** Set when the caller gave up: the store's code must not touch the connection any more. */
  abandoned: boolean;
}

/**
 * Runs a store transaction that its caller may give up on through `signal`. On abort the
 * returned promise rejects AT ONCE (nothing waits on the database: a frozen server would hold the
 * caller, its slot and its connection for as long as it is frozen), `discard()` drops the
 * connection synchronously, and `work`'s own late result is swallowed. The error says what the
 * caller may conclude: nothing committed before COMMIT was sent, unknown after.
 *
 * `discard` must be safe to call before the connection exists (the abort came while connecting):
 * `work` checks `progress.abandoned` once it has one, and discards it then.
 */
export function abandonable<T>(
  store: string,
  signal: AbortSignal | undefined,
  work: (progress: TransactionProgress) => Promise<T>,
  discard: () => void,
): Promise<T> {
  const progress: TransactionProgress = { commitSent: false, committed: false, abandoned: false };
  if (signal === undefined) return work(progress);
  if (signal.aborted) {
    return Promise.reject(new TransactionAbandonedError(`${store}: the transaction was abandoned before it began; nothing was committed`));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      // Acknowledged already: the result is on its way, and it is the truth.
      if (progress.committed) return;
      progress.abandoned = true;
      try {
        discard();
      } finally {
        reject(
          progress.commitSent
            ? new CommitAbandonedError(`${store}: the transaction was abandoned after COMMIT was sent; the connection was discarded and whether it committed is unknown`)
            : new TransactionAbandonedError(`${store}: the transaction was abandoned before COMMIT; the connection was discarded (the database rolls it back); nothing was committed`),
        );
      }
    };
    signal.addEventListener('abort', onAbort, { once: true });
    work(progress).then(
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
