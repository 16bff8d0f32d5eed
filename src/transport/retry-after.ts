/**
 * `Retry-After` (RFC 9110 §10.2.3): either delay-seconds or an HTTP-date. Returns milliseconds
 * from `now`, or undefined when the value is absent or unusable (a past date is 0: retry now).
 */
const DELAY_SECONDS = /^\s*(\d{1,10})(?:\.\d+)?\s*$/;

export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) return undefined;
  const seconds = DELAY_SECONDS.exec(value);
  if (seconds !== null) return Number(seconds[1]) * 1000;
  // Only strings that look like dates: Date.parse accepts bare numbers and odd forms otherwise.
  if (!/[a-z]/i.test(value)) return undefined;
  const at = Date.parse(value);
  if (!Number.isFinite(at)) return undefined;
  return Math.max(0, at - now);
}
