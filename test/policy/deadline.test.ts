import { createHook } from 'node:async_hooks';
import { describe, expect, it } from 'vitest';
import { DeadlineExceededException } from '../../src/errors.js';
import { Deadline } from '../../src/policy/deadline.js';

describe('Deadline', () => {
  it('counts down on the injected monotonic clock, never below zero', () => {
    let now = 1000;
    const deadline = new Deadline(250, () => now);
    expect(deadline.at).toBe(1250);
    expect(deadline.remaining()).toBe(250);
    expect(deadline.expired()).toBe(false);
    now = 1249;
    expect(deadline.remaining()).toBe(1);
    now = 1250;
    expect(deadline.expired()).toBe(true);
    now = 5000;
    expect(deadline.remaining()).toBe(0);
  });

  it('an infinite deadline never expires and its signal never aborts (and makes no timer)', () => {
    const deadline = new Deadline(Number.POSITIVE_INFINITY);
    expect(deadline.remaining()).toBe(Number.POSITIVE_INFINITY);
    expect(deadline.expired()).toBe(false);
    expect(deadline.signal().aborted).toBe(false);
    deadline.dispose();
  });

  it('its signal aborts with DeadlineExceededException when the time is up', async () => {
    const deadline = new Deadline(20);
    const signal = deadline.signal();
    expect(deadline.signal()).toBe(signal); // one controller, one timer
    await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
    expect(signal.reason).toBeInstanceOf(DeadlineExceededException);
    expect(deadline.expired()).toBe(true);
    deadline.dispose();
  });

  it('an already expired deadline gives an aborted signal at once', () => {
    let now = 0;
    const deadline = new Deadline(10, () => now);
    now = 10;
    expect(deadline.signal().aborted).toBe(true);
  });

  it('dispose() clears the timer: nothing stays alive after a finished call', async () => {
    const live = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout') live.add(id);
      },
      destroy(id) {
        live.delete(id);
      },
    }).enable();
    try {
      const deadlines = Array.from({ length: 50 }, () => new Deadline(60_000));
      for (const d of deadlines) d.signal();
      expect(live.size).toBe(50);
      for (const d of deadlines) d.dispose();
      await new Promise((r) => setImmediate(r));
      expect(live.size).toBe(0);
      // Calls that never asked for a signal never made a timer.
      new Deadline(60_000).dispose();
      expect(live.size).toBe(0);
    } finally {
      hook.disable();
    }
  });
});
