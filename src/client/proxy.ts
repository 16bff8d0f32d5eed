/**
 * `client.proxy<Api>()`: every property is a method that calls the server method of the same
 * name. Built on a `Proxy` so any interface works without code generation. The proxy is not
 * thenable (`then` is undefined) so that `await`ing it, or returning it from an async function,
 * does not call a server method named `then`.
 */
import type { CallOptions, ProxiedApi } from './types.js';

type Call = (method: string, params: unknown, options?: CallOptions) => Promise<unknown>;

/** Property names that generic code probes on any object; never treated as remote methods. */
const NOT_METHODS = new Set(['then', 'catch', 'finally', 'toJSON', 'constructor', 'valueOf', 'toString', 'inspect']);

export function createProxy<Api extends object>(call: Call): ProxiedApi<Api> {
  const methods = new Map<string, (params?: unknown, options?: CallOptions) => Promise<unknown>>();
  const handler: ProxyHandler<object> = {
    get(_target, property) {
      if (typeof property !== 'string' || NOT_METHODS.has(property)) return undefined;
      let method = methods.get(property);
      if (method === undefined) {
        method = (params?: unknown, options?: CallOptions) => call(property, params, options);
        methods.set(property, method);
      }
      return method;
    },
    has(_target, property) {
      return typeof property === 'string' && !NOT_METHODS.has(property);
    },
    set() {
      return false;
    },
  };
  return new Proxy(Object.create(null) as object, handler) as ProxiedApi<Api>;
}
