/**
 * The caller's ways to cancel an axios request — its `signal` and the deprecated `cancelToken` —
 * as the one AbortSignal the policy watches, and the policy's CallAbortedException as something
 * axios hands back untouched.
 *
 * Why both: axios's dispatchRequest replaces whatever the adapter rejects with by its own
 * `CanceledError` once the request's signal or token is cancelled — unless the rejection is
 * itself a cancel (`axios.isCancel`, the `__CANCEL__` mark). The policy's CallAbortedException
 * says whether the request may have run (from the attempts' evidence); that must reach the
 * caller. And a token the policy does not watch leaves a call held in an outage until the
 * service comes back, although its caller has given up.
 */
import type { InternalAxiosRequestConfig } from 'axios';
import type { RPCException } from '../errors.js';
import type { SignalFanout } from '../shared/signal-fanout.js';

/** The request's cancellation as one signal; `dispose()` drops the token's listener. */
export interface CallerCancel {
  readonly signal: AbortSignal | undefined;
  dispose(): void;
}

const NONE: CallerCancel = { signal: undefined, dispose: () => undefined };

/**
 * What axios takes as a `signal` (its `GenericAbortSignal`): any object with `aborted` and
 * `addEventListener`, not only Node's AbortSignal — a polyfill's (`abort-controller`), another
 * realm's. axios's http adapter listens on whatever it is given; so must the policy, which hands
 * the adapter its own signal per attempt: a signal it does not watch would go unheard.
 */
interface GenericSignal {
  readonly aborted: boolean;
  readonly reason?: unknown;
  addEventListener(type: 'abort', listener: () => void): void;
  removeEventListener?(type: 'abort', listener: () => void): void;
}

function genericSignal(value: unknown): GenericSignal | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const candidate = value as Partial<GenericSignal>;
  return typeof candidate.aborted === 'boolean' && typeof candidate.addEventListener === 'function' ? (value as GenericSignal) : undefined;
}

/**
 * Merges `config.signal` (an AbortSignal or any signal axios accepts) and `config.cancelToken` into
 * one AbortSignal. A signal that is not Node's own (a polyfill's, another realm's) is heard through
 * `signals`: one listener on it for every request that shares it, not one per request.
 */
export function callerCancel(config: InternalAxiosRequestConfig, signals: SignalFanout): CallerCancel {
  const own = config.signal;
  const native = own instanceof AbortSignal ? own : undefined;
  const token = config.cancelToken;
  const hasToken = token !== undefined && typeof token.subscribe === 'function';
  const source = native ?? genericSignal(own);
  if (!hasToken && source === native) return native === undefined ? NONE : { signal: native, dispose: () => undefined };
  const link = source === undefined ? undefined : signals.link(source);
  if (!hasToken && link !== undefined) return link;
  const controller = new AbortController();
  const onCancel = (reason: unknown): void => controller.abort(reason);
  const linked = link?.signal;
  const onAbort = (): void => controller.abort(linked?.reason);
  if (linked?.aborted === true) controller.abort(linked.reason);
  else linked?.addEventListener('abort', onAbort, { once: true });
  // subscribe() calls the listener at once when the token was already cancelled.
  if (hasToken) token.subscribe(onCancel);
  return {
    signal: controller.signal,
    dispose() {
      if (hasToken) token.unsubscribe(onCancel);
      linked?.removeEventListener('abort', onAbort);
      link?.dispose();
    },
  };
}

/**
 * Marks a CallAbortedException as a cancel in axios's sense (`axios.isCancel(error)` is true), so
 * axios passes it to the caller as it is instead of replacing it by a `CanceledError` that says
 * nothing about whether the request ran. Other errors are returned unchanged.
 */
export function asAxiosCancel(error: unknown, cancel: CallerCancel): unknown {
  if (cancel.signal?.aborted !== true) return error;
  const rpc = error as Partial<RPCException> | null;
  if (rpc === null || typeof rpc !== 'object' || rpc.kind !== 'call-aborted') return error;
  Object.defineProperty(rpc, '__CANCEL__', { value: true, enumerable: false, configurable: true });
  return rpc;
}
