/**
 * The caller's remaining time, sent with each attempt as `X-Hotcold-Timeout-Ms: <ms left>`
 * (DESIGN §1; relative, like gRPC's `grpc-timeout`, so the two clocks need not agree). The node
 * adds it to the request's arrival time on its own monotonic clock.
 */
/** The caller's remaining time (DESIGN §1), as the wire module names it. */
export { HEADER_TIMEOUT_MS as HEADER_CALLER_TIMEOUT } from '../wire.js';

/** Largest accepted value: 2^31−1 ms (about 24.8 days); anything longer is no limit in practice. */
export const MAX_CALLER_TIMEOUT_MS = 2_147_483_647;

/**
 * Parses the header: absent → no limit; a decimal integer 0..2^31−1 → that many ms; anything else
 * (negative, fractional, units, repeated, too large) → `'invalid'`, which the node answers
 * `400` with JSON-RPC `-32600` (invalid request, not executed): a client that sends a
 * malformed deadline has a bug that guessing would hide.
 */
export function parseCallerTimeout(value: string | string[] | undefined): number | undefined | 'invalid' {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^[0-9]{1,10}$/.test(value.trim())) return 'invalid';
  const ms = Number(value.trim());
  return ms <= MAX_CALLER_TIMEOUT_MS ? ms : 'invalid';
}
