/** Options of {@link createAxiosTransport} and their validation. */
import type { AxiosInstance } from 'axios';
import { ConfigurationError } from '../errors.js';
import {
  rejectUnknownKeys,
  requireBoolean,
  requireMs,
  requireNonEmptyString,
  requireObject,
  requirePositiveInteger,
} from '../shared/validate.js';
import { CLIENT_SET_HEADERS, DEFAULT_HEALTH_PATH, DEFAULT_RPC_PATH } from '../wire.js';

/** Credentials {@link createAxiosTransport} sends as `Authorization`: HTTP Basic or a bearer token. */
export type TransportAuth =
  | {
      /** HTTP Basic user name (must not contain `:`). */
      username: string;
      /** HTTP Basic password. */
      password: string;
    }
  | {
      /** Token sent as `Authorization: Bearer <token>`. */
      bearer: string;
    };

/**
 * Options of {@link createAxiosTransport}: where the endpoints are, credentials, limits and the
 * keep-alive policy. A bad value throws a `ConfigurationError` naming the field.
 */
export interface AxiosTransportOptions {
  /**
   * Your own axios instance: its interceptors, agents and defaults are used, and `close()` leaves
   * its agents alone. Per request the transport sets `transformRequest`/`transformResponse` (it
   * serializes and parses itself), `validateStatus`, `responseType: 'text'`, `maxRedirects: 0`,
   * `timeout: 0` (it bounds the whole attempt itself), `adapter: 'http'` and `transport` (to see
   * what the socket did).
   */
  axios?: AxiosInstance;
  /**
   * Path of the JSON-RPC endpoint.
   * @default '/rpc'
   */
  rpcPath?: string;
  /**
   * Path of the health endpoint.
   * @default '/health'
   */
  healthPath?: string;
  /**
   * Extra request headers on every call. Not the ones the transport sets itself: `Idempotency-Key`,
   * `X-Hotcold-Attempt`, `X-Hotcold-Timeout-Ms` (per call, see `CLIENT_SET_HEADERS`),
   * `Content-Type`, `Content-Length` and `Host`, in any case.
   * @throws {ConfigurationError} naming `headers.<name>` for one of those, a name that is no HTTP token or a value with control characters
   */
  headers?: Record<string, string>;
  /** Sent as `Authorization` (Basic or Bearer); the secret is scrubbed from every message. */
  auth?: TransportAuth;
  /**
   * Largest answer body accepted, in bytes; larger is a `ProtocolException`.
   * @default 10485760 (10 MiB)
   */
  maxResponseBytes?: number;
  /**
   * Keep connections alive between calls (only for the transport's own agent).
   * @default true
   */
  keepAlive?: boolean;
  /**
   * How long a kept-alive connection may sit idle before the transport closes it, in ms. It must
   * end before the server or balancer closes its side, or a call sent on the socket just as the
   * server closes it fails as "maybe executed". A shorter `Keep-Alive: timeout=N` hint from the
   * server wins (less one second, as Node's agent does). Only for the transport's own agent.
   * @default 1500 — below the common idle timeouts of servers that send no hint (gunicorn 2 s, Node and Apache 5 s)
   */
  idleSocketTimeoutMs?: number;
}

/** The default of {@link AxiosTransportOptions.idleSocketTimeoutMs}. */
export const DEFAULT_IDLE_SOCKET_TIMEOUT_MS = 1500;

export interface ResolvedTransportOptions {
  axios: AxiosInstance | undefined;
  rpcPath: string;
  healthPath: string;
  /** Static headers sent on every call, Authorization included. */
  headers: Record<string, string>;
  maxResponseBytes: number;
  keepAlive: boolean;
  idleSocketTimeoutMs: number;
  /** Literal secrets found in the options (auth, Authorization headers), for the owner's scope. */
  secrets: string[];
}

const KNOWN = ['axios', 'rpcPath', 'healthPath', 'headers', 'auth', 'maxResponseBytes', 'keepAlive', 'idleSocketTimeoutMs'];
/** Set by the transport on every request: hotcold's per-call headers (DESIGN §1) and the body's framing. */
const RESERVED: ReadonlySet<string> = new Set([...CLIENT_SET_HEADERS, 'content-type', 'content-length', 'host']);
// RFC 9110 token characters.
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// A header value must not smuggle a line break (request splitting) or other control characters.
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const DEFAULT_MAX_RESPONSE_BYTES = 10 * 1024 * 1024;

function isAxiosInstance(value: unknown): value is AxiosInstance {
  const v = value as { request?: unknown; interceptors?: unknown; defaults?: unknown } | null;
  return (
    typeof value === 'function' &&
    typeof v?.request === 'function' &&
    typeof v.interceptors === 'object' &&
    typeof v.defaults === 'object'
  );
}

function requirePath(field: string, value: unknown): string {
  const path = requireNonEmptyString(field, value);
  if (!path.startsWith('/') || /[\s?#]/.test(path)) {
    throw new ConfigurationError(field, "must start with '/' and contain no spaces, '?' or '#'");
  }
  return path;
}

function authorizationOf(auth: unknown, secrets: string[]): string {
  const a = requireObject('auth', auth);
  if ('bearer' in a) {
    rejectUnknownKeys('auth', a, ['bearer']);
    const token = requireNonEmptyString('auth.bearer', a.bearer);
    if (!VALUE.test(token)) throw new ConfigurationError('auth.bearer', 'must not contain control characters');
    secrets.push(token);
    return `Bearer ${token}`;
  }
  rejectUnknownKeys('auth', a, ['username', 'password']);
  const username = requireNonEmptyString('auth.username', a.username);
  if (typeof a.password !== 'string') throw new ConfigurationError('auth.password', 'must be a string');
  if (username.includes(':')) throw new ConfigurationError('auth.username', "must not contain ':'");
  secrets.push(a.password);
  const encoded = Buffer.from(`${username}:${a.password}`, 'utf8').toString('base64');
  secrets.push(encoded);
  return `Basic ${encoded}`;
}

export function resolveTransportOptions(options: unknown): ResolvedTransportOptions {
  const o = requireObject('options', options ?? {});
  rejectUnknownKeys('', o, KNOWN);
  if (o.axios !== undefined && !isAxiosInstance(o.axios)) {
    throw new ConfigurationError('axios', 'must be an axios instance (axios.create())');
  }
  if (o.axios !== undefined && o.idleSocketTimeoutMs !== undefined) {
    throw new ConfigurationError('idleSocketTimeoutMs', "applies to the transport's own agent: set `timeout` on your axios instance's agent instead");
  }
  const headers: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json' };
  const secrets: string[] = [];
  if (o.headers !== undefined) {
    const h = requireObject('headers', o.headers);
    for (const [name, value] of Object.entries(h)) {
      const field = `headers.${name}`;
      if (!TOKEN.test(name)) throw new ConfigurationError(field, 'is not a valid header name');
      if (RESERVED.has(name.toLowerCase())) throw new ConfigurationError(field, 'is set by the transport');
      if (typeof value !== 'string' || !VALUE.test(value)) {
        throw new ConfigurationError(field, 'must be a string without control characters');
      }
      if (name.toLowerCase() === 'authorization' || name.toLowerCase() === 'proxy-authorization') {
        if (o.auth !== undefined) throw new ConfigurationError(field, 'conflicts with auth');
        secrets.push(value);
      }
      headers[name] = value;
    }
  }
  if (o.auth !== undefined) headers.Authorization = authorizationOf(o.auth, secrets);
  return {
    axios: o.axios,
    rpcPath: o.rpcPath === undefined ? DEFAULT_RPC_PATH : requirePath('rpcPath', o.rpcPath),
    healthPath: o.healthPath === undefined ? DEFAULT_HEALTH_PATH : requirePath('healthPath', o.healthPath),
    headers,
    maxResponseBytes:
      o.maxResponseBytes === undefined
        ? DEFAULT_MAX_RESPONSE_BYTES
        : requirePositiveInteger('maxResponseBytes', o.maxResponseBytes),
    keepAlive: o.keepAlive === undefined ? true : requireBoolean('keepAlive', o.keepAlive),
    idleSocketTimeoutMs:
      o.idleSocketTimeoutMs === undefined
        ? DEFAULT_IDLE_SOCKET_TIMEOUT_MS
        : requireMs('idleSocketTimeoutMs', o.idleSocketTimeoutMs, { max: 2_147_483_647 }),
    secrets,
  };
}
