import type { TimerHandle } from '../../src/shared/timer.js';
import type { NodeClock } from '../../src/node/node-clock.js';

/** A clock that moves only when the test says so: deadlines without real-time sleeps. */
export class ManualClock implements NodeClock {
  private time = 0;
  private readonly timers = new Set<{ at: number; fn: () => void }>();

  now(): number {
    return this.time;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const timer = { at: this.time + (Number.isNaN(delayMs) || delayMs < 0 ? 0 : delayMs), fn };
    this.timers.add(timer);
    const handle: TimerHandle = {
      clear: () => void this.timers.delete(timer),
      unref: () => handle,
      ref: () => handle,
    };
    return handle;
  }

  /** Moves time forward, firing due timers in order. */
  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      const due = [...this.timers].filter((t) => t.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!due) break;
      this.timers.delete(due);
      this.time = Math.max(this.time, due.at);
      due.fn();
    }
    this.time = until;
  }
}
