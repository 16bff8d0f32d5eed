/**
 * Self-fencing arithmetic (pure: unit-tested with every input by fast-check).
 *
 * A standby may take over once the DATABASE clock reads `renewed_at + waitInterval`, and
 * `renewed_at` is stamped while the renewal statement runs, i.e. after the holder sent it. So if
 * the holder stops acting within `waitInterval` of the renewal's *send* time — measured on its own
 * monotonic clock — it has stopped before any standby can start. Two things can make the holder's
 * clock disagree with the database's about "waitInterval":
 *
 * - clock RATE: quartz clocks drift by tens of ppm; NTP slews by at most 500 ppm. We allow
 *   CLOCK_DRIFT = 1000 ppm, so the holder gives up after waitInterval × (1 − 1e-3) of its own time;
 * - RESOLUTION: SQLite stamps `renewed_at` in whole milliseconds (it may read up to 1 ms before the
 *   send), and timers fire with ~1 ms granularity. FIXED_MARGIN_MS = 2 covers both.
 *
 * With the defaults (40 s) the margin is 42 ms; with 500 ms it is 2.5 ms.
 */
import { MAX_TIMER_DELAY_MS } from '../shared/timer.js';

/** The clock-rate error allowed between a holder's monotonic clock and the database's (1000 ppm). */
export const CLOCK_DRIFT = 1e-3;
/** Margin for millisecond stamps and timer granularity, in ms. */
export const FIXED_MARGIN_MS = 2;

/** How long after a successful renewal's send time the holder may act, in its own ms. */
export function selfFencingSpan(waitInterval: number): number {
  return waitInterval * (1 - CLOCK_DRIFT) - FIXED_MARGIN_MS;
}

/** The holder's deadline for a renewal sent at monotonic time `sentAt`. */
export function selfFencingDeadline(sentAt: number, waitInterval: number): number {
  return sentAt + selfFencingSpan(waitInterval);
}

/**
 * The holder's deadline when what it knows is a READ of the row rather than its own statement's
 * answer: the read was sent at monotonic `readSentAt` and the database reported `expiresInMs`
 * left on its own clock at the moment the read ran, which was no earlier than the send. Used when
 * a takeover of ours committed without its answer reaching us: several attempts may have been
 * waiting (on a row lock, in a pool), each stamped when it STARTED, so no send time of ours is
 * known to precede the stamp that counts — but the read's is.
 */
export function deadlineFromRead(readSentAt: number, expiresInMs: number): number {
  return readSentAt + Math.max(0, expiresInMs) * (1 - CLOCK_DRIFT) - FIXED_MARGIN_MS;
}

/**
 * The earliest real time a standby can take over when a read sent at `readSentAt` reported
 * `expiresInMs` left: the read ran the instant it was sent, on a database clock running fast by
 * CLOCK_DRIFT, rounded up to its whole millisecond. Property-tested against {@link deadlineFromRead}.
 */
export function earliestTakeoverAfterRead(readSentAt: number, expiresInMs: number): number {
  return readSentAt + Math.max(0, expiresInMs) / (1 + CLOCK_DRIFT) - 1;
}

/**
 * The earliest real time a standby can take over after a renewal sent at `sentAt`, in the worst
 * case the rules above allow: the database stamps the renewal the instant it is sent, and its clock
 * runs fast by CLOCK_DRIFT relative to the holder's. Used by the property test: the deadline must
 * come strictly before it.
 */
export function earliestTakeover(sentAt: number, waitInterval: number): number {
  // The DB's clock advances by waitInterval in waitInterval / (1 + drift) of the holder's time,
  // minus the 1 ms by which a whole-millisecond stamp can lag the true instant.
  return sentAt + waitInterval / (1 + CLOCK_DRIFT) - 1;
}

/** Delay before retrying a failed renewal: several tries fit before the deadline. */
export function renewRetryDelay(updateInterval: number, waitInterval: number): number {
  return Math.max(5, Math.min(updateInterval, (selfFencingSpan(waitInterval) - updateInterval) / 4, updateInterval / 4));
}

/**
 * How long one renewal sent at monotonic `sentAt` may wait for its answer, in ms: until there is
 * just room for one retry before the `deadline` it is meant to extend (`retryDelay` to wait, as
 * long again to run), and never less than `statementTimeoutMs`; `statementTimeoutMs` when there is
 * no deadline (self-fencing disabled). The retry is what is left for a renewal stuck on a dead
 * connection.
 *
 * Why not `statementTimeoutMs` alone: a renewal legitimately waits for the fenced transactions that
 * are running (InnoDB share locks, SQLite's one connection), and giving up on the client does not
 * stop it — the database still runs and commits it. A short timeout therefore throws away an
 * acknowledgement that would have extended the tenure, the retry queues behind the abandoned
 * statement, and under load the holder fences itself while its renewals keep succeeding. Waiting
 * is safe: only an acknowledgement moves the deadline, measured from the send time.
 * Capped at {@link MAX_TIMER_DELAY_MS}.
 */
export function renewalTimeout(sentAt: number, deadline: number, statementTimeoutMs: number, retryDelay: number): number {
  if (!Number.isFinite(deadline)) return statementTimeoutMs;
  // Drivers arm the timeout with Node's timers, which fire at once above 2^31−1 ms.
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(statementTimeoutMs, Math.floor(deadline - sentAt - 2 * retryDelay)));
}
