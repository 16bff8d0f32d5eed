/**
 * One `abort` listener on a caller's signal, however many calls share it. A service commonly
 * passes one AbortSignal (its shutdown signal, a request's) to every call it makes; a listener
 * per call on it makes Node print `MaxListenersExceededWarning` at the eleventh call in flight —
 * a leak warning for listeners that are in fact removed — and costs O(calls in flight) per
 * `addEventListener`, which walks the listeners already there. Here each call gets a signal of
 * its own, and the caller's signal carries one listener per fan-out for all of them (the
 * transport's registry of attempts does the same for its signals: shared/inflight.ts).
 */

/** What a caller may pass as a signal: Node's AbortSignal, or one from a polyfill or another realm. */
export interface SignalLike {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

/** A call's own signal, aborted with the caller's reason; `dispose()` when the call ends. */
export interface FannedSignal {
  readonly signal: AbortSignal;
  dispose(): void;
}

/** The calls sharing one caller signal, behind the one listener on it. */
class Watchers {
  readonly calls = new Set<AbortController>();
  readonly onAbort: () => void;

  constructor(
    private readonly owner: SignalFanout,
    private readonly source: SignalLike,
  ) {
    this.onAbort = (): void => owner.aborted(source, this);
  }

  abortAll(reason: unknown): void {
    for (const controller of [...this.calls]) controller.abort(reason);
    this.calls.clear();
  }
}

export class SignalFanout {
  private readonly bySignal = new Map<SignalLike, Watchers>();

  /**
   * @param closing - Optional: when it aborts, every call's signal aborts with its reason too (a
   *   pipeline's close()), with one listener on it for all calls.
   */
  constructor(closing?: AbortSignal) {
    closing?.addEventListener('abort', () => this.abortAll(closing.reason), { once: true });
  }

  /** A signal for one call that aborts when `source` does, with its reason. */
  link(source: SignalLike): FannedSignal {
    const controller = new AbortController();
    if (source.aborted) {
      controller.abort(source.reason);
      return { signal: controller.signal, dispose: noop };
    }
    let watchers = this.bySignal.get(source);
    if (watchers === undefined) {
      watchers = new Watchers(this, source);
      this.bySignal.set(source, watchers);
      source.addEventListener('abort', watchers.onAbort);
    }
    watchers.calls.add(controller);
    const owned = watchers;
    return {
      signal: controller.signal,
      dispose: () => this.unlink(source, owned, controller),
    };
  }

  /** @internal `source` aborted: every call linked to it aborts with its reason. */
  aborted(source: SignalLike, watchers: Watchers): void {
    if (this.bySignal.get(source) === watchers) this.bySignal.delete(source);
    source.removeEventListener?.('abort', watchers.onAbort);
    watchers.abortAll(source.reason);
  }

  /** Aborts every linked call with `reason` and drops every listener (close()). */
  abortAll(reason: unknown): void {
    const all = [...this.bySignal];
    this.bySignal.clear();
    for (const [source, watchers] of all) {
      source.removeEventListener?.('abort', watchers.onAbort);
      watchers.abortAll(reason);
    }
  }

  private unlink(source: SignalLike, watchers: Watchers, controller: AbortController): void {
    if (!watchers.calls.delete(controller) || watchers.calls.size > 0) return;
    if (this.bySignal.get(source) === watchers) this.bySignal.delete(source);
    source.removeEventListener?.('abort', watchers.onAbort);
  }
}

function noop(): void {}
