/**
 * Retry-After (RFC 9110 §10.2.3): delay-seconds or an HTTP-date in any of the three forms of
 * §5.6.7; anything else is ignored, never guessed at.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseHttpDate, parseRetryAfter } from '../../src/transport/retry-after.js';

const now = Date.UTC(2030, 0, 1, 12, 0, 0);

describe('parseRetryAfter', () => {
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('0', now)).toBe(0);
    expect(parseRetryAfter('1', now)).toBe(1000);
    expect(parseRetryAfter(' 120 ', now)).toBe(120_000);
    // Huge but valid: finite; the pipeline caps it with retry.maxRetryAfterMs.
    expect(Number.isFinite(parseRetryAfter('9'.repeat(40), now))).toBe(true);
  });

  it('reads the three HTTP-date forms (IMF-fixdate, RFC 850, asctime)', () => {
    expect(parseRetryAfter('Tue, 01 Jan 2030 12:00:05 GMT', now)).toBe(5000);
    expect(parseRetryAfter('Tuesday, 01-Jan-30 12:00:07 GMT', now)).toBe(7000);
    expect(parseRetryAfter('Tue Jan  1 12:00:09 2030', now)).toBe(9000);
    expect(parseRetryAfter('Tue, 01 Jan 2030 11:59:00 GMT', now)).toBe(0); // past: now
  });

  it.each([
    '1.5', '-1', '+3', '1e3', '0x10', 'soon', '', ' ', 'Tuesday', '12:00:05',
    'Wed, 01 Jan 2030 12:00:05 GMT', // wrong weekday
    'Tue, 01 Jan 2030 12:00:05 UTC', // not GMT
    'Fri, 31 Feb 2030 12:00:05 GMT', // no such day
    'Tue, 1 Jan 2030 12:00:05 GMT', // one-digit day in an IMF-fixdate
    '2030-01-01T12:00:05Z', // ISO 8601 is not an HTTP-date
  ])('ignores the bad value %j', (value) => {
    expect(parseRetryAfter(value, now)).toBeUndefined();
  });

  it('round-trips every IMF-fixdate Date#toUTCString produces, and never throws on any string', () => {
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(1971, 0, 1), max: Date.UTC(2200, 0, 1) }), (at) => {
        const whole = at - (at % 1000);
        expect(parseHttpDate(new Date(whole).toUTCString())).toBe(whole);
      }),
      { numRuns: 2000 },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (s) => {
        const ms = parseRetryAfter(s, now);
        expect(ms === undefined || (Number.isFinite(ms) && ms >= 0)).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});
