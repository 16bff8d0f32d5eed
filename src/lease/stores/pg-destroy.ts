import type pg from 'pg';

/**
 * Tears down a pg client's socket at once. pg has no public way to: `end()` sends Terminate and
 * waits for the server to close, which a frozen server never does. The client then emits 'end'
 * (and fails a pending query), so its pool drops it.
 */
export function destroyClient(client: pg.Client): void {
  (client as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
}
