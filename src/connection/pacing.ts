/**
 * Back-pressure (DESIGN §2): a per-backend "not before" time, set from the `Retry-After` of a
 * `429` (RFC 6585 §4) and honoured by every attempt AND every health probe to that backend. A
 * server that asks for a pause is alive, so this is not an outage and not a breaker failure: the
 * calls simply wait (within their deadline) instead of being sent early.
 *
 * Scope: the backend URL that answered. It is forgotten when that backend's serving identity
 * changes (a failover: the new node never asked for a pause) and when it expires.
 */
import { monotonicNow } from '../shared/clock.js';
import { sleep } from '../shared/sleep.js';

export class BackendPacing {
  /** Backend URL → monotonic ms before which nothing may be sent to it. */
  private readonly notBefore = new Map<string, number>();

  constructor(private readonly now: () => number = monotonicNow) {}

  /** Nothing is paced: the success path checks this one field. */
  get idle(): boolean {
    return this.notBefore.size === 0;
  }

  /** The server asked for `delayMs` of quiet (capped by `capMs`); a later "not before" wins. */
  defer(backend: string, delayMs: number, capMs: number): void {
    if (!(delayMs > 0) || !(capMs > 0)) return;
    const until = this.now() + Math.min(delayMs, capMs);
    const known = this.notBefore.get(backend);
    if (known === undefined || until > known) this.notBefore.set(backend, until);
  }

  /** Milliseconds until `backend` may be sent to; 0 when it may be now. */
  delayFor(backend: string): number {
    const until = this.notBefore.get(backend);
    if (until === undefined) return 0;
    const left = until - this.now();
    if (left > 0) return left;
    this.notBefore.delete(backend);
    return 0;
  }

  /**
   * Waits until `backend` may be sent to. Rejects with the signal's reason when it aborts.
   * Loops because a timer may fire a little early, and another 429 may push the time later.
   */
  async wait(backend: string, signal?: AbortSignal): Promise<void> {
    for (let left = this.delayFor(backend); left > 0; left = this.delayFor(backend)) {
      await sleep(Math.ceil(left), signal);
    }
  }

  /** The backend's serving node changed: a pause its predecessor asked for does not apply. */
  forget(backend: string): void {
    this.notBefore.delete(backend);
  }
}
