import { monotonicNow } from '../../shared/clock.js';
import { sleep } from '../../shared/sleep.js';
import { StoreBusyError } from '../errors.js';

/**
 * SQLite's "another connection holds the lock I need" (better-sqlite3 `SqliteError.code`:
 * `SQLITE_BUSY`, `SQLITE_BUSY_RECOVERY`, `SQLITE_BUSY_SNAPSHOT`, …). Only these are worth waiting
 * for; `SQLITE_LOCKED` is a conflict inside this process that waiting does not end.
 */
export function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

/** Retry delays between lock attempts: short, so a lock held for microseconds costs ~1 ms. */
const FIRST_RETRY_MS = 1;
const MAX_RETRY_MS = 8;

/**
 * Runs `attempt` — synchronous SQLite work on a connection whose `busy_timeout` is 0, so a held
 * lock fails it at once instead of blocking the event loop — until it stops failing with
 * SQLITE_BUSY, sleeping 1, 2, 4, 8, 8, … ms on a timer between tries. Gives up with
 * {@link StoreBusyError} at `deadline` (monotonic ms). Anything else `attempt` throws passes
 * through at once.
 *
 * `attempt` must leave its connection as it found it when it throws (roll back what it began):
 * between two attempts other work may run on the same connection.
 */
export async function whileBusy<T>(what: string, attempt: () => T, deadline: number, startedAt = monotonicNow()): Promise<T> {
  let delay = FIRST_RETRY_MS;
  for (;;) {
    try {
      return attempt();
    } catch (error) {
      if (!isBusy(error)) throw error;
      const now = monotonicNow();
      if (now >= deadline) throw new StoreBusyError(what, now - startedAt, { cause: error });
      await sleep(Math.min(delay, deadline - now));
      delay = Math.min(delay * 2, MAX_RETRY_MS);
    }
  }
}
