/**
 * Options of {@link attachPolicy}: the pipeline's (`createPolicy`'s, DESIGN §4) plus what REST
 * needs. Validated at attach time; a bad value throws a `ConfigurationError` naming the field.
 */
import { randomUUID } from 'node:crypto';
import { ConfigurationError } from '../errors.js';
import type { PolicyOptions } from './policy-api.js';
import { ProxyEnv } from './proxy-env.js';
import { compileRoutes, type RoutePolicy, type RouteTable } from './routes.js';

/**
 * Options of {@link attachPolicy}: `PolicyOptions` from `hotcold` (retry, breaker, budget, timeouts,
 * reconnect, callbacks) plus the REST-specific ones below. Operations are named
 * `'<METHOD> <path>'`; `methods` and `probe` are replaced by `routes` and `healthPath`.
 * A bad value throws a `ConfigurationError` naming the field.
 */
export interface AttachPolicyOptions extends Omit<PolicyOptions, 'methods' | 'probe'> {
  /**
   * Per-route policies, keyed `'<METHOD> <path pattern>'` (path-to-regexp patterns, matched
   * against the path of the URL given to axios; `*` matches any method; first match wins):
   * `{ 'POST /transfers': { idempotent: false, timeoutMs: 2000 }, 'GET /accounts/:id': { timeoutMs: 500 } }`.
   * A route's `idempotent` overrides the method's RFC 9110 default.
   * @default {}
   */
  routes?: Readonly<Record<string, RoutePolicy>>;
  /**
   * Add an `Idempotency-Key` header (one per logical request, the same on every retry) to each
   * request whose method is not idempotent (POST, PATCH, …) and that has none of its own.
   * @default false
   */
  idempotencyKeys?: boolean;
  /**
   * Path of the backend's health endpoint (e.g. `'/health'`), probed with GET through the
   * instance while the policy is reconnecting: 2xx (with a JSON body whose `status`, if any, is
   * `'active'`) means serving. `false`: no probe; the policy recovers from the next successful
   * request.
   * @default false
   */
  healthPath?: string | false;
  /**
   * Send `X-Hotcold-Attempt` and `X-Hotcold-Timeout-Ms` (what is left of the request's deadline,
   * DESIGN §1) with each attempt; a hotcold node does not start a request whose time is spent.
   * Either way, a request's own `X-Hotcold-Timeout-Ms` (ms left of its caller's deadline, a
   * whole number from 0 to 2147483647) bounds its deadline: the earlier of it and the route's or
   * the policy's `deadlineMs` ends the request; any other value rejects the request with a
   * `ConfigurationError` naming `headers.<name>`, before anything is sent.
   * @default true
   */
  hotcoldHeaders?: boolean;
}

/** The options after validation. */
export interface ResolvedAttachOptions {
  routes: RouteTable;
  idempotencyKeys: boolean;
  healthPath: string | undefined;
  hotcoldHeaders: boolean;
  /** The backends were given: each attempt goes to the base URL the policy picks. */
  pool: boolean;
  newKey: () => string;
  /** The proxy variables in the environment, as this instance last read them. */
  proxyEnv: ProxyEnv;
  /** What is passed on to `createPolicy`. */
  policy: PolicyOptions;
}

const OWN_KEYS = ['routes', 'idempotencyKeys', 'healthPath', 'hotcoldHeaders'] as const;

function optionalBoolean(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new ConfigurationError(field, 'must be a boolean');
  return value;
}

/** @throws {ConfigurationError} naming the field. */
export function resolveAttachOptions(options: AttachPolicyOptions | undefined, defaultBackend: string): ResolvedAttachOptions {
  if (options !== undefined && (typeof options !== 'object' || options === null || Array.isArray(options))) {
    throw new ConfigurationError('options', 'must be an object');
  }
  const o: AttachPolicyOptions = options ?? {};
  const routes = compileRoutes(o.routes);
  let healthPath: string | undefined;
  if (o.healthPath !== undefined && o.healthPath !== false) {
    if (typeof o.healthPath !== 'string' || !o.healthPath.startsWith('/') || /[\s#]/.test(o.healthPath)) {
      throw new ConfigurationError('healthPath', "must be a path starting with '/' (or false)");
    }
    healthPath = o.healthPath;
  }
  if ((o as { probe?: unknown }).probe !== undefined) {
    throw new ConfigurationError('probe', 'attachPolicy probes through the instance: use healthPath');
  }
  if ((o as { methods?: unknown }).methods !== undefined) {
    throw new ConfigurationError('methods', 'attachPolicy names operations by route: use routes');
  }
  const policy: Record<string, unknown> = { ...o };
  for (const key of OWN_KEYS) delete policy[key];
  if (Object.keys(routes.methods).length > 0) policy.methods = routes.methods;
  if (o.backends === undefined) policy.backends = [defaultBackend];
  const generate = o.idempotencyKey;
  if (generate !== undefined && typeof generate !== 'function') throw new ConfigurationError('idempotencyKey', 'must be a function returning a string');
  return {
    routes,
    idempotencyKeys: optionalBoolean('idempotencyKeys', o.idempotencyKeys, false),
    healthPath,
    hotcoldHeaders: optionalBoolean('hotcoldHeaders', o.hotcoldHeaders, true),
    pool: o.backends !== undefined,
    newKey: generate ?? randomUUID,
    proxyEnv: new ProxyEnv(),
    policy,
  };
}

/**
 * The pipeline validates route policies as its `methods` (`methods.<route>.timeoutMs`): a
 * ConfigurationError about one names the option you wrote instead, `routes['<route>'].timeoutMs`
 * (`methods` is not even an option of attachPolicy). Other errors are returned as they are.
 */
export function asRouteError(error: unknown, routes: Readonly<Record<string, unknown>>): unknown {
  if (!(error instanceof ConfigurationError) || !error.field.startsWith('methods.')) return error;
  const rest = error.field.slice('methods.'.length);
  // The longest route name the field starts with: a name may itself contain dots ('GET /v1.2/x').
  let found: string | undefined;
  for (const name of Object.keys(routes)) {
    if ((rest === name || rest.startsWith(`${name}.`)) && (found === undefined || name.length > found.length)) found = name;
  }
  return found === undefined ? error : new ConfigurationError(`routes['${found}']${rest.slice(found.length)}`, error.reason);
}
