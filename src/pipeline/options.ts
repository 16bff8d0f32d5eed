/**
 * Validation and defaults of the pipeline's options ({@link PolicyOptions}), shared by
 * `createPolicy` and every adapter (`createClient` adds its wire options on top). Every field is
 * checked at construction and a bad one throws `ConfigurationError` naming its path; values are
 * never echoed. The retry, breaker and budget sections are validated by the policy module that
 * implements them.
 */
import { ConfigurationError } from '../errors.js';
import {
  rejectUnknownKeys,
  requireBoolean,
  requireMs,
  requireNonEmptyString,
  requireObject,
  requirePositiveInteger,
} from '../shared/validate.js';
import { resolveLogger, type Logger } from '../shared/logger.js';
import type { DisconnectInfo, PermanentFailureInfo, ReconnectInfo } from '../connection/types.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import { requireTelemetryOptions } from '../shared/validate-telemetry.js';
// PolicyOptions is imported for the {@link PolicyOptions} references in TSDoc (typedoc resolves them through it).
// eslint-disable-next-line @typescript-eslint/no-unused-vars
import type { Classifier, PolicyOptions, ProbeContext, ProbeResult } from './types.js';

/** Defaults of every pipeline option (docs/policy.md's table). */
export const POLICY_DEFAULTS = {
  timeoutMs: 5000,
  deadlineMs: 30_000,
  maxPending: 1000,
  maxReconnectAttempts: Number.POSITIVE_INFINITY,
  reconnect: { minDelayMs: 50, maxDelayMs: 250, probeTimeoutMs: 1000 },
} as const;

/** The option names of {@link PolicyOptions}. */
export const POLICY_KEYS = [
  'backends',
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
  'onDisconnect',
  'onReconnect',
  'onPermanentFailure',
  'idempotencyKey',
  'classify',
  'probe',
  'telemetry',
  'logger',
] as const;

const METHOD_KEYS = ['idempotent', 'retry', 'timeoutMs', 'deadlineMs', 'retryOnCodes'] as const;
const RECONNECT_KEYS = ['minDelayMs', 'maxDelayMs', 'probeTimeoutMs'] as const;

/** An operation's policy before the retry section is resolved by the policy module. */
export interface MethodSettings {
  idempotent: boolean;
  /** Raw per-operation retry overrides (`false`: one attempt only), validated by the pipeline. */
  retry: Record<string, unknown> | false | undefined;
  timeoutMs: number | undefined;
  deadlineMs: number | undefined;
  retryOnCodes: readonly number[];
}

/** The options every pipeline runs on, validated. */
export interface ResolvedPipelineOptions {
  backends: readonly string[];
  timeoutMs: number;
  deadlineMs: number;
  serverDeduplicates: boolean;
  maxPending: number;
  maxReconnectAttempts: number;
  reconnect: { minDelayMs: number; maxDelayMs: number; probeTimeoutMs: number };
  methods: ReadonlyMap<string, MethodSettings>;
  retry: Record<string, unknown> | undefined;
  breaker: Record<string, unknown> | false | undefined;
  budget: Record<string, unknown> | false | undefined;
  onDisconnect: ((info: DisconnectInfo) => void) | undefined;
  onReconnect: ((info: ReconnectInfo) => void) | undefined;
  onPermanentFailure: ((info: PermanentFailureInfo) => void) | undefined;
  idempotencyKey: (() => string) | undefined;
  /** Where metrics and spans go; undefined: the global providers, if an SDK registered real ones. */
  telemetry: TelemetryOptions | undefined;
  logger: Logger | undefined;
}

export interface ResolvedPolicyOptions extends ResolvedPipelineOptions {
  classify: Classifier | undefined;
  probe: ((context: ProbeContext) => Promise<boolean | ProbeResult>) | undefined;
}

/** `createPolicy`'s options, validated (unknown keys refused). */
export function resolvePolicyOptions(input: unknown): ResolvedPolicyOptions {
  // undefined means "all defaults"; null is a mistake, and says so like any other non-object.
  const options = requireObject('options', input === undefined ? {} : input);
  rejectUnknownKeys('', options, POLICY_KEYS);
  const raw = options as Partial<Record<(typeof POLICY_KEYS)[number], unknown>>;
  return {
    ...resolvePipelineFields(raw, resolveBackendKeys(raw.backends)),
    classify: optionalFunction<Classifier>('classify', raw.classify),
    probe: optionalFunction<(context: ProbeContext) => Promise<boolean | ProbeResult>>('probe', raw.probe),
  };
}

/** The fields every adapter shares, from raw options (already checked to be an object). */
export function resolvePipelineFields(raw: Readonly<Record<string, unknown>>, backends: readonly string[]): ResolvedPipelineOptions {
  return {
    backends,
    timeoutMs: optional(raw.timeoutMs, POLICY_DEFAULTS.timeoutMs, (v) => requireMs('timeoutMs', v)),
    deadlineMs: optional(raw.deadlineMs, POLICY_DEFAULTS.deadlineMs, (v) => requireMs('deadlineMs', v)),
    serverDeduplicates: optional(raw.serverDeduplicates, false, (v) => requireBoolean('serverDeduplicates', v)),
    maxPending: optional(raw.maxPending, POLICY_DEFAULTS.maxPending, (v) => requirePositiveInteger('maxPending', v)),
    maxReconnectAttempts: optional(raw.maxReconnectAttempts, POLICY_DEFAULTS.maxReconnectAttempts, (v) =>
      requireCountOrInfinity('maxReconnectAttempts', v),
    ),
    reconnect: resolveReconnect(raw.reconnect),
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

function resolveBackendKeys(value: unknown): readonly string[] {
  if (value === undefined) return ['default'];
  const list = Array.isArray(value) ? (value as unknown[]) : [value];
  if (list.length === 0) throw new ConfigurationError('backends', 'must not be an empty array');
  const seen = new Set<string>();
  return list.map((entry, index) => {
    const field = Array.isArray(value) ? `backends[${index}]` : 'backends';
    const key = requireNonEmptyString(field, entry);
    if (seen.has(key)) throw new ConfigurationError(field, 'is listed twice');
    seen.add(key);
    return key;
  });
}

export function optional<T>(value: unknown, fallback: T, check: (value: unknown) => T): T {
  return value === undefined ? fallback : check(value);
}

export function requireCountOrInfinity(field: string, value: unknown): number {
  if (value === Number.POSITIVE_INFINITY) return value;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(field, 'must be a positive integer or Infinity');
  }
  return value;
}

export function resolveReconnect(value: unknown): ResolvedPipelineOptions['reconnect'] {
  if (value === undefined) return { ...POLICY_DEFAULTS.reconnect };
  const raw = requireObject('reconnect', value);
  rejectUnknownKeys('reconnect', raw, RECONNECT_KEYS);
  const minDelayMs = optional(raw.minDelayMs, POLICY_DEFAULTS.reconnect.minDelayMs, (v) => requireMs('reconnect.minDelayMs', v));
  const maxDelayMs = optional(raw.maxDelayMs, Math.max(minDelayMs, POLICY_DEFAULTS.reconnect.maxDelayMs), (v) =>
    requireMs('reconnect.maxDelayMs', v),
  );
  if (maxDelayMs < minDelayMs) throw new ConfigurationError('reconnect.maxDelayMs', 'must be >= reconnect.minDelayMs');
  const probeTimeoutMs = optional(raw.probeTimeoutMs, POLICY_DEFAULTS.reconnect.probeTimeoutMs, (v) =>
    requireMs('reconnect.probeTimeoutMs', v),
  );
  return { minDelayMs, maxDelayMs, probeTimeoutMs };
}

export function resolveMethods(value: unknown): ReadonlyMap<string, MethodSettings> {
  const map = new Map<string, MethodSettings>();
  if (value === undefined) return map;
  const raw = requireObject('methods', value);
  for (const [name, entry] of Object.entries(raw)) {
    const field = `methods.${name}`;
    if (name.length === 0) throw new ConfigurationError('methods', 'has an empty method name');
    const policy = requireObject(field, entry);
    rejectUnknownKeys(field, policy, METHOD_KEYS);
    const retry = policy.retry;
    map.set(name, {
      idempotent: optional(policy.idempotent, false, (v) => requireBoolean(`${field}.idempotent`, v)),
      retry: retry === undefined || retry === false ? retry : requireObject(`${field}.retry`, retry),
      timeoutMs: optional(policy.timeoutMs, undefined, (v) => requireMs(`${field}.timeoutMs`, v)),
      deadlineMs: optional(policy.deadlineMs, undefined, (v) => requireMs(`${field}.deadlineMs`, v)),
      retryOnCodes: optional(policy.retryOnCodes, [] as readonly number[], (v) => requireCodes(`${field}.retryOnCodes`, v)),
    });
  }
  return map;
}

function requireCodes(field: string, value: unknown): readonly number[] {
  if (!Array.isArray(value) || !value.every((c) => Number.isSafeInteger(c))) {
    throw new ConfigurationError(field, 'must be an array of integer JSON-RPC error codes');
  }
  return [...(value as number[])];
}

export function optionalFunction<F>(field: string, value: unknown): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') throw new ConfigurationError(field, 'must be a function');
  return value as F;
}
