/** A manual {@link LeaseClock} for tests of the engine's timing policy: time moves only on advance(). */
import type { LeaseClock, TimerHandle } from '../../src/lease/clock.js';

interface Pending {
  at: number;
  seq: number;
  fn: () => void;
}

/** Lets every promise chain that is ready run (I/O callbacks included), without moving time. */
export async function settle(rounds = 20): Promise<void> {
  for (let i = 0; i < rounds; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

export class ManualClock implements LeaseClock {
  private t = 0;
  private seq = 0;
  private readonly pending = new Set<Pending>();

  now(): number {
    return this.t;
  }

  setTimer(fn: () => void, delayMs: number): TimerHandle {
    const delay = Number.isNaN(delayMs) || delayMs <= 0 ? 0 : delayMs;
    const entry: Pending = { at: this.t + delay, seq: this.seq++, fn };
    if (delay !== Number.POSITIVE_INFINITY) this.pending.add(entry);
    const handle: TimerHandle = {
      clear: () => {
        this.pending.delete(entry);
      },
      unref: () => handle,
      ref: () => handle,
    };
    return handle;
  }

  /**
   * Moves time forward by `ms` without firing the timers that fall due: a blocked event loop, on
   * which time passes and due timers wait for their turn. The next {@link advance} fires them.
   */
  jump(ms: number): void {
    this.t += ms;
  }

  /** Moves time forward by `ms`, firing due timers in order and letting their effects settle. */
  async advance(ms: number): Promise<void> {
    const target = this.t + ms;
    await settle();
    for (;;) {
      let next: Pending | undefined;
      for (const p of this.pending) if (p.at <= target && (!next || p.at < next.at || (p.at === next.at && p.seq < next.seq))) next = p;
      if (!next) break;
      this.pending.delete(next);
      this.t = Math.max(this.t, next.at);
      next.fn();
      await settle();
    }
    this.t = target;
    await settle();
  }
}
