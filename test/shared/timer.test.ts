/** setTimer/setRepeating: any delay, chained past Node's 2^31−1 ms ceiling (fake timers: pure logic). */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { MAX_TIMER_DELAY_MS, normaliseDelay, setRepeating, setTimer } from '../../src/shared/timer.js';

describe('setTimer', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('fires exactly at any delay, never early, however far past the ceiling', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 5 * MAX_TIMER_DELAY_MS }), (delay) => {
        vi.clearAllTimers();
        const fn = vi.fn();
        setTimer(fn, delay);
        const due = Math.max(1, Math.ceil(delay));
        vi.advanceTimersByTime(due - 1);
        const early = fn.mock.calls.length;
        vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
        return early === 0 || due <= 1 ? fn.mock.calls.length === 1 : false;
      }),
      { numRuns: 200 },
    );
  });

  it('never fires for Infinity; NaN and negatives mean now', () => {
    const never = vi.fn();
    setTimer(never, Number.POSITIVE_INFINITY);
    vi.advanceTimersByTime(10 * MAX_TIMER_DELAY_MS);
    expect(never).not.toHaveBeenCalled();
    expect(normaliseDelay(Number.NaN)).toBe(0);
    expect(normaliseDelay(-5)).toBe(0);
  });

  it('clear() stops a chained timer between slices', () => {
    const fn = vi.fn();
    const t = setTimer(fn, 3 * MAX_TIMER_DELAY_MS);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS + 10);
    t.clear();
    vi.advanceTimersByTime(5 * MAX_TIMER_DELAY_MS);
    expect(fn).not.toHaveBeenCalled();
    expect(vi.getTimerCount()).toBe(0);
  });
});

describe('setRepeating', () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it('repeats at its interval until cleared, and leaves no timer', () => {
    const fn = vi.fn();
    const t = setRepeating(fn, 100);
    vi.advanceTimersByTime(350);
    expect(fn).toHaveBeenCalledTimes(3);
    t.clear();
    vi.advanceTimersByTime(1000);
    expect(fn).toHaveBeenCalledTimes(3);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a repeat longer than the ceiling does not spin', () => {
    const fn = vi.fn();
    setRepeating(fn, 2 * MAX_TIMER_DELAY_MS);
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(fn).not.toHaveBeenCalled();
    vi.advanceTimersByTime(MAX_TIMER_DELAY_MS);
    expect(fn).toHaveBeenCalledTimes(1);
  });
});
