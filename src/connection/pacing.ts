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

/** A backend's pause: nothing before `until`; `since` is when the pause that set it was asked for. */
interface Pause {
  until: number;
  since: number;
}

export class BackendPacing {
  /** Backend URL → the pause it asked for (monotonic ms). */
  private readonly notBefore = new Map<string, Pause>();

  constructor(private readonly now: () => number = monotonicNow) {}

  /** Nothing is paced: the success path checks this one field. */
  get idle(): boolean {
    return this.notBefore.size === 0;
  }

  /** The server asked for `delayMs` of quiet (capped by `capMs`); a later "not before" wins. */
  defer(backend: string, delayMs: number, capMs: number): void {
    if (!(delayMs > 0) || !(capMs > 0)) return;
    const now = this.now();
    const until = now + Math.min(delayMs, capMs);
    const known = this.notBefore.get(backend);
    if (known === undefined || until > known.until) this.notBefore.set(backend, { until, since: now });
  }

  /**
   * Milliseconds until `backend` may be sent to; 0 when it may be now. `capMs`: a call's own
   * tighter cap on a server's pause (an operation's `retry.maxRetryAfterMs`), counted from when
   * the pause was asked for: that call waits no longer than it allows, though others wait the
   * whole pause (the policy's cap, applied by {@link defer}).
   */
  delayFor(backend: string, capMs?: number): number {
    const pause = this.notBefore.get(backend);
    if (pause === undefined) return 0;
    const now = this.now();
    if (pause.until - now <= 0) {
      this.notBefore.delete(backend);
      return 0;
    }
    const until = capMs !== undefined && pause.since + capMs < pause.until ? pause.since + capMs : pause.until;
    const left = until - now;
    return left > 0 ? left : 0;
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
