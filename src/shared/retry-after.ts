/**
 * `Retry-After` (RFC 9110 §10.2.3): `delay-seconds` (1*DIGIT) or an `HTTP-date` (§5.6.7: the
 * IMF-fixdate, and the obsolete RFC 850 and asctime forms a recipient must accept). Returns
 * milliseconds from `now`, or undefined when the value is absent or not one of those forms
 * ("bad values ignored": `1.5`, `-1`, `soon`, a date with a wrong weekday, …). A past date is 0.
 * The caller caps the result (`retry.maxRetryAfterMs`); a huge delay-seconds is kept finite here.
 */
const DELAY_SECONDS = /^[ \t]*(\d{1,100})[ \t]*$/;
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const LONG_DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
/** `Sun, 06 Nov 1994 08:49:37 GMT` */
const IMF_FIXDATE = /^([A-Za-z]{3}), (\d{2}) ([A-Za-z]{3}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** `Sunday, 06-Nov-94 08:49:37 GMT` */
const RFC850_DATE = /^([A-Za-z]{6,9}), (\d{2})-([A-Za-z]{3})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
/** `Sun Nov  6 08:49:37 1994` */
const ASCTIME_DATE = /^([A-Za-z]{3}) ([A-Za-z]{3}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

/**
 * Parses an HTTP `Retry-After` value: `delay-seconds` or an HTTP-date (all three RFC 9110 forms).
 *
 * @param value - The header's value.
 * @param now - The time an HTTP-date is measured from, in epoch ms (default `Date.now()`).
 * @returns The delay in ms (0 for a past date), or `undefined` for an absent or malformed value.
 * @example
 * ```ts
 * import { parseRetryAfter } from 'hotcold';
 *
 * parseRetryAfter('2'); // 2000
 * parseRetryAfter('soon'); // undefined
 * ```
 */
export function parseRetryAfter(value: string | undefined | null, now: number = Date.now()): number | undefined {
  if (typeof value !== 'string' || value.length === 0 || value.length > 100) return undefined;
  const seconds = DELAY_SECONDS.exec(value);
  if (seconds !== null) return Math.min(Number(seconds[1]) * 1000, Number.MAX_SAFE_INTEGER);
  const at = parseHttpDate(value.trim());
  return at === undefined ? undefined : Math.max(0, at - now);
}

/** An HTTP-date as epoch ms, or undefined when it is not a valid one. */
export function parseHttpDate(text: string): number | undefined {
  let m = IMF_FIXDATE.exec(text);
  if (m !== null) return build(m[1], DAYS, m[2], m[3], Number(m[4]), m[5], m[6], m[7]);
  m = RFC850_DATE.exec(text);
  if (m !== null) {
    // RFC 9110 §5.6.7: a two-digit year more than 50 years in the future is in the past century.
    let year = 2000 + Number(m[4]);
    if (year > new Date().getUTCFullYear() + 50) year -= 100;
    return build(m[1], LONG_DAYS, m[2], m[3], year, m[5], m[6], m[7]);
  }
  m = ASCTIME_DATE.exec(text);
  if (m !== null) return build(m[1], DAYS, (m[3] ?? '').trim(), m[2], Number(m[7]), m[4], m[5], m[6]);
  return undefined;
}

function build(
  dayName: string | undefined,
  dayNames: readonly string[],
  day: string | undefined,
  monthName: string | undefined,
  year: number,
  hh: string | undefined,
  mm: string | undefined,
  ss: string | undefined,
): number | undefined {
  const month = MONTHS.indexOf((monthName ?? '').toLowerCase());
  const weekday = dayNames.indexOf((dayName ?? '').toLowerCase());
  const d = Number(day);
  const h = Number(hh);
  const min = Number(mm);
  const s = Number(ss);
  if (month < 0 || weekday < 0 || d < 1 || d > 31 || h > 23 || min > 59 || s > 60) return undefined;
  const at = Date.UTC(year, month, d, h, min, Math.min(s, 59));
  const date = new Date(at);
  // Rejects 31 Feb (Date.UTC rolls it over) and a weekday that does not match the date.
  if (date.getUTCDate() !== d || date.getUTCMonth() !== month || date.getUTCDay() !== weekday) return undefined;
  return at;
}
