/**
 * The caller's gRPC deadline as hotcold reads it.
 */

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
