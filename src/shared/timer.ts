/**
 * The one place this library arms a timer. Node's `setTimeout` fires after 1 ms for any delay
 * above 2^31−1 ms (with a `TimeoutOverflowWarning`) and treats NaN as 1 ms; both would turn a
 * long deadline or a far Retry-After into an instant retry. Here a delay is normalised once
 * (NaN and negatives become 0, Infinity means "never") and a long one is chained in slices.
 */

/** The largest delay Node's timers accept (2^31−1 ms, about 24.8 days). */
export const MAX_TIMER_DELAY_MS = 2_147_483_647;

/** A timer armed by `setTimer` (src/shared/timer.ts): cancel it, or let it not hold the process open. */
export interface TimerHandle {
  /** Cancels the timer; calling it again, or after it fired, does nothing. */
  clear(): void;
  /** Lets the process exit while only this timer is pending. Returns the handle. */
  unref(): TimerHandle;
  /** Undoes {@link TimerHandle.unref}: the pending timer holds the process open again. Returns the handle. */
  ref(): TimerHandle;
}

/** Normalises a delay in ms: NaN and negatives become 0; Infinity stays (never fires). */
export function normaliseDelay(ms: number): number {
  if (Number.isNaN(ms) || ms <= 0) return 0;
  return ms;
}

/**
 * Runs `fn` once after `delayMs`, for any delay: 0 to Infinity (never). Delays above
 * {@link MAX_TIMER_DELAY_MS} are chained in slices, so they neither overflow nor fire early.
 */
export function setTimer(fn: () => void, delayMs: number): TimerHandle {
  const total = normaliseDelay(delayMs);
  let cleared = false;
  let unrefed = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = (remaining: number): void => {
    if (remaining === Infinity) return;
    const slice = Math.min(remaining, MAX_TIMER_DELAY_MS);
    timer = setTimeout(() => {
      timer = undefined;
      if (cleared) return;
      if (remaining > slice) arm(remaining - slice);
      else fn();
    }, slice);
    if (unrefed) timer.unref();
  };
  arm(total);
  const handle: TimerHandle = {
    clear() {
      cleared = true;
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
    unref() {
      unrefed = true;
      timer?.unref();
      return handle;
    },
    ref() {
      unrefed = false;
      timer?.ref();
      return handle;
    },
  };
  return handle;
}

/**
 * Runs `fn` every `intervalMs` until cleared: each run arms the next through {@link setTimer},
 * so any interval works. An interval of 0 is raised to 1 ms (a 0 ms loop would starve I/O).
 */
export function setRepeating(fn: () => void, intervalMs: number): TimerHandle {
  const every = Math.max(1, normaliseDelay(intervalMs));
  let current: TimerHandle | undefined;
  let cleared = false;
  let unrefed = false;
  const arm = (): void => {
    current = setTimer(() => {
      if (cleared) return;
      arm();
      fn();
    }, every);
    if (unrefed) current.unref();
  };
  arm();
  const handle: TimerHandle = {
    clear() {
      cleared = true;
      current?.clear();
    },
    unref() {
      unrefed = true;
      current?.unref();
      return handle;
    },
    ref() {
      unrefed = false;
      current?.ref();
      return handle;
    },
  };
  return handle;
}
