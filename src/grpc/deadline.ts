/**
 * The two ends of a gRPC deadline as hotcold handles them: the caller's `deadline` call option
 * read into "ms left", and the deadline each attempt (and health probe) is sent with.
 */

/**
 * The longest deadline hotcold sends: 24 days. A grpc-js server reads `grpc-timeout` into a
 * 32-bit integer (`| 0`), so anything above 2^31−1 ms (about 24.8 days; grpc-js rounds it up to
 * whole seconds on the way) wraps: 30 days arrived as a deadline already passed. And grpc-js's
 * client cannot encode one beyond ~11 000 years at all (it throws where nobody catches it).
 * 24 days is no limit in practice; the policy still ends the call at its own deadline.
 */
export const MAX_SENT_DEADLINE_MS = 24 * 24 * 3600 * 1000;

/**
 * Ms left until the caller's grpc-js `deadline` (a `Date`, or ms since the epoch): undefined for
 * none (`undefined`, `null` and `Infinity`, as grpc-js reads them), `-Infinity` or any past time
 * as already passed (≤ 0), and `'invalid'` for what is no time at all (NaN, an invalid `Date`, a
 * string). Bare grpc-js ends a NaN one at once and throws on a string; read as "none", it sent
 * the call without the deadline the caller meant to give it.
 */
export function deadlineLeftMs(deadline: unknown): number | undefined | 'invalid' {
  if (deadline === undefined || deadline === null) return undefined;
  const at = deadline instanceof Date ? deadline.getTime() : typeof deadline === 'number' ? deadline : Number.NaN;
  if (Number.isNaN(at)) return 'invalid';
  if (at === Number.POSITIVE_INFINITY) return undefined;
  return at - Date.now();
}

/**
 * The grpc-js `deadline` for `leftMs` from now: `Infinity` (none) for `Infinity`, else at least
 * 1 ms (NaN too, as the HTTP adapters' `X-Hotcold-Timeout-Ms`) and at most {@link MAX_SENT_DEADLINE_MS}.
 */
export function sentDeadline(leftMs: number): number {
  if (leftMs === Number.POSITIVE_INFINITY) return leftMs;
  return Date.now() + (leftMs >= 1 ? (leftMs < MAX_SENT_DEADLINE_MS ? leftMs : MAX_SENT_DEADLINE_MS) : 1);
}
