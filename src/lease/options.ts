import { ConfigurationError } from '../errors.js';
import {
  rejectUnknownKeys,
  requireBoolean,
  requireNonEmptyString,
  requireObject,
  requireOneOf,
  requirePositiveInteger,
} from '../shared/validate.js';
import { CLOCK_DRIFT, FIXED_MARGIN_MS, selfFencingSpan } from './self-fencing.js';
import { systemClock, type LeaseClock } from './clock.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import { requireTelemetryOptions } from '../shared/validate-telemetry.js';
import { resolveLogger, type Logger } from '../shared/logger.js';
import type { LeaseMode, LeaseOptions, LeaseStore } from './types.js';

/** The validated options (`telemetry` and `logger` are kept by the engine, not here: they are not settings to read back). */
export type ResolvedLeaseOptions = Readonly<Required<Omit<LeaseOptions, 'store' | 'telemetry' | 'logger'>>>;

const KNOWN = [
  'store',
  'name',
  'machineName',
  'updateInterval',
  'waitInterval',
  'mode',
  'statementTimeoutMs',
  'pollInterval',
  'unsafeDisableSelfFencing',
  'requireSynchronousReplication',
  'clock',
  'telemetry',
  'logger',
] as const;

/**
 * The smallest intervals that can work. A holder fences itself about `waitInterval` after it SENT
 * a renewal, so `waitInterval` must leave room for a statement's round trip through a pool and a
 * busy event loop (a few ms on loopback, tens under load); below this a lone holder loses and
 * retakes its own lease with a new token over and over. `updateInterval` below 10 ms would send
 * renewals faster than a database answers them.
 */
export const MIN_WAIT_INTERVAL_MS = 100;
export const MIN_UPDATE_INTERVAL_MS = 10;

/** Lease names share the row's VARCHAR(191) key with nothing else; keep them printable. */
const NAME = /^[\x21-\x7e]{1,191}$/;
/** C0/C1 control characters, and UTF-16 surrogates not part of a pair. */
// eslint-disable-next-line no-control-regex
const CONTROL_OR_LONE_SURROGATE = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function requireStore(value: unknown): LeaseStore {
  const store = value as Partial<LeaseStore> | undefined;
  if (
    typeof store !== 'object' ||
    store === null ||
    typeof store.read !== 'function' ||
    typeof store.transaction !== 'function' ||
    typeof store.assertHeld !== 'function' ||
    typeof store.init !== 'function'
  ) {
    throw new ConfigurationError('store', 'must be a lease store (sqliteStore, postgresStore, mysqlStore)');
  }
  return store as LeaseStore;
}

function requireClock(value: unknown): LeaseClock {
  if (value === undefined) return systemClock;
  // The rule takes `value` (narrowed to `{} | null`) and this type for the same; they are not for tsc,
  // which needs the assertion to type-check the property tests below.
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
  const clock = value as Partial<LeaseClock> | null;
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function' || typeof clock.setTimer !== 'function') {
    throw new ConfigurationError('clock', 'must have now() and setTimer(fn, delayMs)');
  }
  return clock as LeaseClock;
}

/** Checks every option (throwing a `ConfigurationError` naming the field) and fills defaults. */
export function resolveLeaseOptions(input: LeaseOptions): { store: LeaseStore; options: ResolvedLeaseOptions; telemetry: TelemetryOptions | undefined; warnings: string[]; logger: Logger | undefined } {
  const raw = requireObject('options', input);
  rejectUnknownKeys('', raw, KNOWN);
  const store = requireStore(raw.store);
  const name = requireNonEmptyString('name', raw.name ?? 'hotcold');
  if (!NAME.test(name)) throw new ConfigurationError('name', 'must be 1 to 191 printable ASCII characters without spaces');
  const machineName = requireNonEmptyString('machineName', raw.machineName);
  if (machineName.length > 200) throw new ConfigurationError('machineName', 'must be at most 200 characters');
  // The holder id is compared in SQL and, by the fence, in JS against what the database stored:
  // PostgreSQL stores no NUL (every takeover failed, retried for ever), and a lone surrogate is
  // stored as U+FFFD (every fence then found "another holder").
  if (CONTROL_OR_LONE_SURROGATE.test(machineName)) {
    throw new ConfigurationError('machineName', 'must be well-formed text without control characters');
  }
  const updateInterval = requirePositiveInteger('updateInterval', raw.updateInterval ?? 20_000);
  const waitInterval = requirePositiveInteger('waitInterval', raw.waitInterval ?? 40_000);
  if (updateInterval < MIN_UPDATE_INTERVAL_MS) {
    throw new ConfigurationError('updateInterval', `must be at least ${MIN_UPDATE_INTERVAL_MS} ms (a renewal needs a database round trip)`);
  }
  if (waitInterval < MIN_WAIT_INTERVAL_MS) {
    throw new ConfigurationError('waitInterval', `must be at least ${MIN_WAIT_INTERVAL_MS} ms (the self-fencing deadline must leave room for a renewal's round trip)`);
  }
  const mode: LeaseMode = requireOneOf('mode', raw.mode ?? 'cold', ['cold', 'warm'] as const);
  const unsafeDisableSelfFencing = requireBoolean('unsafeDisableSelfFencing', raw.unsafeDisableSelfFencing ?? false);
  const requireSynchronousReplication = requireBoolean('requireSynchronousReplication', raw.requireSynchronousReplication ?? false);

  if (waitInterval <= updateInterval) {
    throw new ConfigurationError('waitInterval', 'must be greater than updateInterval (2× or more is recommended)');
  }
  const span = selfFencingSpan(waitInterval);
  if (span <= updateInterval) {
    throw new ConfigurationError(
      'waitInterval',
      `must exceed updateInterval by more than the self-fencing margin (the holder would fence itself before renewing): at least ${Math.ceil((updateInterval + FIXED_MARGIN_MS) / (1 - CLOCK_DRIFT)) + 1}`,
    );
  }
  const statementTimeoutMs = requirePositiveInteger(
    'statementTimeoutMs',
    // Short enough that a hung renewal times out and is retried (more than once) before the
    // deadline: half of the slack between the renewal time and the deadline, at most 5 s.
    raw.statementTimeoutMs ?? Math.max(1, Math.min(updateInterval, Math.floor((span - updateInterval) / 2), 5000)),
  );
  if (statementTimeoutMs >= span) {
    throw new ConfigurationError('statementTimeoutMs', `must be below the self-fencing deadline (${Math.floor(span)} ms after a renewal is sent)`);
  }
  const pollInterval = requirePositiveInteger(
    'pollInterval',
    raw.pollInterval ?? Math.min(1000, Math.max(10, Math.floor(updateInterval / 4))),
  );

  const clock = requireClock(raw.clock);
  const telemetry = requireTelemetryOptions('telemetry', raw.telemetry);
  const logger = resolveLogger('logger', raw.logger);
  const warnings: string[] = [];
  if (waitInterval < 2 * updateInterval) {
    warnings.push(
      `waitInterval (${waitInterval} ms) is below 2 × updateInterval (${updateInterval} ms): a single slow or failed renewal will fence the holder; 2× or more is recommended`,
    );
  }
  return {
    store,
    options: { name, machineName, updateInterval, waitInterval, mode, statementTimeoutMs, pollInterval, unsafeDisableSelfFencing, requireSynchronousReplication, clock },
    telemetry,
    warnings,
    logger,
  };
}
