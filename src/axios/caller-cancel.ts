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

/** The request's cancellation as one signal; `dispose()` drops the token's listener. */
export interface CallerCancel {
  readonly signal: AbortSignal | undefined;
  dispose(): void;
}

const NONE: CallerCancel = { signal: undefined, dispose: () => undefined };

/** Merges `config.signal` (an AbortSignal) and `config.cancelToken` into one signal. */
export function callerCancel(config: InternalAxiosRequestConfig): CallerCancel {
  const signal = config.signal instanceof AbortSignal ? config.signal : undefined;
  const token = config.cancelToken;
  if (token === undefined || typeof token.subscribe !== 'function') return signal === undefined ? NONE : { signal, dispose: () => undefined };
  const controller = new AbortController();
  const onCancel = (reason: unknown): void => controller.abort(reason);
  const onAbort = (): void => controller.abort(signal?.reason);
  if (signal?.aborted) controller.abort(signal.reason);
  else signal?.addEventListener('abort', onAbort, { once: true });
  // subscribe() calls the listener at once when the token was already cancelled.
  token.subscribe(onCancel);
  return {
    signal: controller.signal,
    dispose() {
      token.unsubscribe(onCancel);
      signal?.removeEventListener('abort', onAbort);
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
