/**
 * Validation and defaults for `createClient` options. Every field is checked at construction
 * and a bad one throws `ConfigurationError` naming its path; values are never echoed (a header
 * or password may be a secret). The retry, breaker and budget sections are validated by the
 * policy module that implements them, so the rules live in one place.
 */
import type { AxiosInstance } from 'axios';
import { ConfigurationError } from '../errors.js';
import {
  rejectUnknownKeys,
  requireBoolean,
  requireHttpUrl,
  requireNonEmptyString,
  requireObject,
  requireMs,
  requirePositiveInteger,
} from '../shared/validate.js';
import { DEFAULT_HEALTH_PATH, DEFAULT_RPC_PATH, isClientSetHeader } from '../wire.js';
import {
  POLICY_DEFAULTS,
  optional,
  optionalFunction,
  requireCountOrInfinity,
  resolveMethods,
  resolveReconnect,
  type ResolvedPipelineOptions,
} from '../pipeline/options.js';
import { resolveLogger } from '../shared/logger.js';
import type { Transport } from '../transport/types.js';
import type { ClientAuth, DisconnectInfo, PermanentFailureInfo, ReconnectInfo } from './types.js';
import { requireTelemetryOptions } from '../shared/validate-telemetry.js';

/** The pipeline's defaults, plus the wire's. */
export const CLIENT_DEFAULTS = {
  ...POLICY_DEFAULTS,
  maxResponseBytes: 10 * 1024 * 1024,
} as const;

const CLIENT_KEYS = [
  'url',
  'retry',
  'breaker',
  'budget',
  'timeoutMs',
  'deadlineMs',
  'methods',
  'serverDeduplicates',
  'maxPending',
  'maxReconnectAttempts',
  'reconnect',
  'auth',
  'headers',
  'axios',
  'transport',
  'rpcPath',
  'healthPath',
  'maxResponseBytes',
  'idleSocketTimeoutMs',
  'onDisconnect',
  'onReconnect',
  'onPermanentFailure',
  'idempotencyKey',
  'telemetry',
  'logger',
] as const;


export type { MethodSettings } from '../pipeline/options.js';

/** The pipeline's options (backends are the balancer's or the pool's URLs) and the wire's. */
export interface ResolvedClientOptions extends ResolvedPipelineOptions {
  rpcPath: string;
  healthPath: string;
  maxResponseBytes: number;
  idleSocketTimeoutMs: number | undefined;
  auth: ClientAuth | undefined;
  headers: Readonly<Record<string, string>> | undefined;
  axios: AxiosInstance | undefined;
  transport: Transport | undefined;
}

export function resolveClientOptions(input: unknown): ResolvedClientOptions {
  const options = requireObject('options', input);
  rejectUnknownKeys('', options, CLIENT_KEYS);
  const raw = options as Partial<Record<(typeof CLIENT_KEYS)[number], unknown>>;

  if (raw.transport !== undefined) {
    // A custom transport replaces axios: these would be silently ignored, so refuse them.
    for (const key of ['axios', 'auth', 'headers', 'maxResponseBytes', 'idleSocketTimeoutMs'] as const) {
      if (raw[key] !== undefined) throw new ConfigurationError(key, 'cannot be combined with transport (configure your transport instead)');
    }
  }
  return {
    backends: resolveUrls(raw.url),
    timeoutMs: optional(raw.timeoutMs, CLIENT_DEFAULTS.timeoutMs, (v) => requireTime('timeoutMs', v)),
    deadlineMs: optional(raw.deadlineMs, CLIENT_DEFAULTS.deadlineMs, (v) => requireTime('deadlineMs', v)),
    serverDeduplicates: optional(raw.serverDeduplicates, false, (v) => requireBoolean('serverDeduplicates', v)),
    maxPending: optional(raw.maxPending, CLIENT_DEFAULTS.maxPending, (v) => requireCount('maxPending', v)),
    maxReconnectAttempts: optional(raw.maxReconnectAttempts, CLIENT_DEFAULTS.maxReconnectAttempts, (v) =>
      requireCountOrInfinity('maxReconnectAttempts', v),
    ),
    reconnect: resolveReconnect(raw.reconnect),
    rpcPath: optional(raw.rpcPath, DEFAULT_RPC_PATH, (v) => requirePath('rpcPath', v)),
    healthPath: optional(raw.healthPath, DEFAULT_HEALTH_PATH, (v) => requirePath('healthPath', v)),
    maxResponseBytes: optional(raw.maxResponseBytes, CLIENT_DEFAULTS.maxResponseBytes, (v) =>
      requirePositiveInteger('maxResponseBytes', v),
    ),
    idleSocketTimeoutMs: optional(raw.idleSocketTimeoutMs, undefined, (v) => requireMs('idleSocketTimeoutMs', v, { max: 2_147_483_647 })),
    auth: raw.auth === undefined ? undefined : resolveAuth(raw.auth),
    headers: raw.headers === undefined ? undefined : resolveHeaders(raw.headers),
    axios: raw.axios === undefined ? undefined : resolveAxios(raw.axios),
    transport: raw.transport === undefined ? undefined : resolveTransport(raw.transport),
    methods: resolveMethods(raw.methods),
    retry: raw.retry === undefined ? undefined : requireObject('retry', raw.retry),
    breaker: raw.breaker === undefined || raw.breaker === false ? raw.breaker : requireObject('breaker', raw.breaker),
    budget: raw.budget === undefined || raw.budget === false ? raw.budget : requireObject('budget', raw.budget),
    onDisconnect: optionalFunction<(info: DisconnectInfo) => void>('onDisconnect', raw.onDisconnect),
    onReconnect: optionalFunction<(info: ReconnectInfo) => void>('onReconnect', raw.onReconnect),
    onPermanentFailure: optionalFunction<(info: PermanentFailureInfo) => void>('onPermanentFailure', raw.onPermanentFailure),
    idempotencyKey: optionalFunction<() => string>('idempotencyKey', raw.idempotencyKey),
    telemetry: requireTelemetryOptions('telemetry', raw.telemetry),
    logger: resolveLogger('logger', raw.logger),
  };
}

function resolveUrls(value: unknown): readonly string[] {
  if (value === undefined) throw new ConfigurationError('url', 'is required (a URL or an array of URLs)');
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (Array.isArray(value) && list.length === 0) throw new ConfigurationError('url', 'must not be an empty array');
  const seen = new Set<string>();
  return list.map((entry, index) => {
    const field = Array.isArray(value) ? `url[${index}]` : 'url';
    const url = requireHttpUrl(field, entry);
    if (url.search || url.hash) throw new ConfigurationError(field, 'must not have a query or fragment');
    const base = (entry as string).replace(/\/+$/, '');
    if (seen.has(base)) throw new ConfigurationError(field, 'is listed twice');
    seen.add(base);
    return base;
  });
}

/** A time in milliseconds: finite and > 0, of any size (timers chain delays past 2^31−1 ms). */
function requireTime(field: string, value: unknown): number {
  return requireMs(field, value);
}

function requireCount(field: string, value: unknown): number {
  return requirePositiveInteger(field, value);
}

function requirePath(field: string, value: unknown): string {
  const path = requireNonEmptyString(field, value);
  if (!path.startsWith('/') || /[\s?#]/.test(path)) throw new ConfigurationError(field, "must be a path starting with '/'");
  return path;
}

function resolveAuth(value: unknown): ClientAuth {
  const raw = requireObject('auth', value);
  if ('bearer' in raw) {
    rejectUnknownKeys('auth', raw, ['bearer']);
    return { bearer: requireNonEmptyString('auth.bearer', raw.bearer) };
  }
  rejectUnknownKeys('auth', raw, ['username', 'password']);
  if (typeof raw.username !== 'string') throw new ConfigurationError('auth.username', 'must be a string');
  if (typeof raw.password !== 'string') throw new ConfigurationError('auth.password', 'must be a string');
  if (raw.username.includes(':')) throw new ConfigurationError('auth.username', "must not contain ':'");
  return { username: raw.username, password: raw.password };
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

function resolveHeaders(value: unknown): Readonly<Record<string, string>> {
  const raw = requireObject('headers', value);
  const out: Record<string, string> = {};
  for (const [name, header] of Object.entries(raw)) {
    if (!TOKEN.test(name)) throw new ConfigurationError('headers', 'has a header name that is not an HTTP token');
    // Sent by hotcold per call (DESIGN §1): a fixed value of yours would be ignored, or replace the call's own.
    if (isClientSetHeader(name)) throw new ConfigurationError(`headers.${name}`, 'is set by hotcold on every call (idempotency key, attempt, deadline left); it cannot be configured');
    if (typeof header !== 'string' || /[\r\n\0]/.test(header)) {
      throw new ConfigurationError(`headers.${name}`, 'must be a string without CR, LF or NUL');
    }
    out[name] = header;
  }
  return out;
}

function resolveAxios(value: unknown): AxiosInstance {
  if (typeof value !== 'function' || typeof (value as { request?: unknown }).request !== 'function') {
    throw new ConfigurationError('axios', 'must be an axios instance (axios.create())');
  }
  return value as AxiosInstance;
}

function resolveTransport(value: unknown): Transport {
  const t = value as Partial<Transport> | null;
  if (typeof t !== 'object' || t === null || typeof t.send !== 'function' || typeof t.health !== 'function' || typeof t.close !== 'function') {
    throw new ConfigurationError('transport', 'must implement send(), health() and close()');
  }
  return value as Transport;
}
