/**
 * Per-route policies: `'<METHOD> <path pattern>'` → {@link RoutePolicy}. Patterns are
 * path-to-regexp's (the matcher Express and Koa use): `/accounts/:id`, `/files/*path`, optional
 * parts in braces `/items{/:id}`. `*` as the method matches any method. A request's path is
 * the path of the URL given to axios (`config.url`, without query or fragment); routes are tried
 * in the order they were declared and the first match wins.
 */
import { pathToRegexp } from 'path-to-regexp';
import { ConfigurationError } from '../errors.js';
import type { OperationPolicy } from './policy-api.js';

/** A route's policy: the pipeline's per-operation policy (DESIGN §4). */
export type RoutePolicy = Pick<OperationPolicy, 'idempotent' | 'retry' | 'timeoutMs' | 'deadlineMs'>;

const METHOD = /^(\*|[A-Za-z]+)$/;
const KNOWN_ROUTE_KEYS: ReadonlySet<string> = new Set(['idempotent', 'retry', 'timeoutMs', 'deadlineMs']);

interface CompiledRoute {
  /** The route's key as declared, e.g. `POST /transfers`: the operation name. */
  readonly name: string;
  /** Upper-case method, or `*`. */
  readonly method: string;
  /**
   * The pattern's regular expression (path-to-regexp's, the one its `match` runs): only whether
   * a path matches is needed, so no params object is built per request. No `g`/`y` flag: `test`
   * keeps no state between requests.
   */
  readonly regexp: RegExp;
  readonly policy: RoutePolicy;
  /** What {@link RouteTable.lookup} returns for this route: made once, not per request. */
  readonly found: RouteMatch;
}

/** What a request matched. */
export interface RouteMatch {
  readonly name: string;
  readonly policy: RoutePolicy | undefined;
}

export interface RouteTable {
  /** The operation name and policy of a request: its route's, or `'<METHOD> <path>'` without one. */
  lookup(method: string, path: string): RouteMatch;
  /** Route name → policy, for the pipeline's `methods`. */
  readonly methods: Readonly<Record<string, RoutePolicy>>;
  /**
   * The name telemetry records a request under: its route's name, or for a request that matched
   * no route only its HTTP method (`_OTHER` for a non-standard one). An unrouted name carries the
   * request's path (ids, signed-URL tokens): as a metric attribute or span name it would mint a
   * series per request and could carry a credential.
   */
  telemetryName(name: string): string;
}

/** HTTP methods recorded by name (OpenTelemetry's HTTP conventions); any other is `_OTHER`. */
const KNOWN_METHODS: ReadonlySet<string> = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);

/** What telemetry calls a request whose method is not a standard one. */
export const OTHER_METHOD = '_OTHER';

/**
 * Compiles `routes`.
 * @throws {ConfigurationError} `routes['…']` when a key is not `'<METHOD> /path'`, the pattern
 * does not parse, or a policy has an unknown field.
 */
export function compileRoutes(routes: Readonly<Record<string, RoutePolicy>> | undefined): RouteTable {
  const compiled: CompiledRoute[] = [];
  const methods: Record<string, RoutePolicy> = {};
  if (routes !== undefined) {
    if (typeof routes !== 'object' || routes === null || Array.isArray(routes)) {
      throw new ConfigurationError('routes', "must be an object of '<METHOD> /path' → policy");
    }
    for (const [name, policy] of Object.entries(routes)) {
      const field = `routes['${name}']`;
      const space = name.indexOf(' ');
      const method = space > 0 ? name.slice(0, space) : '';
      const pattern = space > 0 ? name.slice(space + 1).trim() : '';
      if (!METHOD.test(method) || !pattern.startsWith('/')) {
        throw new ConfigurationError(field, "the key must be '<METHOD> /path' (e.g. 'POST /transfers', '* /health')");
      }
      if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) {
        throw new ConfigurationError(field, 'must be an object ({ idempotent?, retry?, timeoutMs?, deadlineMs? })');
      }
      for (const key of Object.keys(policy)) {
        if (!KNOWN_ROUTE_KEYS.has(key)) throw new ConfigurationError(`${field}.${key}`, 'is not a route option');
      }
      if (policy.idempotent !== undefined && typeof policy.idempotent !== 'boolean') {
        throw new ConfigurationError(`${field}.idempotent`, 'must be a boolean');
      }
      let regexp: RegExp;
      try {
        regexp = pathToRegexp(pattern).regexp;
      } catch (error) {
        throw new ConfigurationError(field, `the path pattern does not parse: ${(error as Error).message}`);
      }
      compiled.push({ name, method: method.toUpperCase(), regexp, policy, found: { name, policy } });
      methods[name] = policy;
    }
  }
  return {
    methods,
    lookup(method: string, path: string): RouteMatch {
      const upper = method.toUpperCase();
      for (const route of compiled) {
        if ((route.method === '*' || route.method === upper) && route.regexp.test(path)) return route.found;
      }
      return { name: `${upper} ${path}`, policy: undefined };
    },
    telemetryName(name: string): string {
      if (Object.hasOwn(methods, name)) return name;
      const method = name.slice(0, Math.max(0, name.indexOf(' ')));
      return KNOWN_METHODS.has(method) ? method : OTHER_METHOD;
    },
  };
}

/**
 * The path of a request URL (absolute or relative), without query or fragment. An authority
 * (`//[userinfo@]host[:port]`) goes, with or without a scheme: axios takes a protocol-relative
 * `//host/a` as an absolute URL too (its `isAbsoluteURL`), and its userinfo is a credential that
 * must not become part of an operation name (events, logs, errors).
 */
export function pathOf(url: string | undefined): string {
  if (url === undefined || url === '') return '/';
  // The common case, a bare path ('/accounts/7'): no scheme or authority to strip (a scheme
  // starts with a letter, an authority with '//'), nothing to cut.
  if (url.charCodeAt(0) === 0x2f && url.charCodeAt(1) !== 0x2f && !url.includes('?') && !url.includes('#')) return url;
  let rest = url;
  const authority = /^(?:[a-z][a-z0-9+.-]*:)?\/\/[^/?#]*/i.exec(rest);
  if (authority !== null) rest = rest.slice(authority[0].length);
  const end = rest.search(/[?#]/);
  if (end >= 0) rest = rest.slice(0, end);
  if (rest === '') return '/';
  return rest.startsWith('/') ? rest : `/${rest}`;
}
