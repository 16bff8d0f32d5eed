import type { IncomingMessage } from 'node:http';
import { ConfigurationError } from '../errors.js';
import type { Lease } from '../lease/types.js';
import {
  rejectUnknownKeys,
  requireBoolean,
  requireNonEmptyString,
  requireNonNegativeInteger,
  requireMs,
  requireObject,
  requirePositiveInteger,
  requireHeaderText,
  requireSqlIdentifier,
} from '../shared/validate.js';
import { DEFAULT_HEALTH_PATH, DEFAULT_RPC_PATH, FEED_METHOD } from '../wire.js';
import { resolveLogger, type Logger } from '../shared/logger.js';
import type { Handlers, NodeOptions, StopOptions } from './types.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import { requireTelemetryOptions } from '../shared/validate-telemetry.js';

export interface ResolvedNodeOptions {
  lease: Lease;
  /** The machine name every answer carries as `X-Hotcold-Node` (checked to be header text). */
  machine: string;
  port: number;
  host: string;
  handlers: Map<string, Handlers[string]>;
  rpcPath: string;
  healthPath: string;
  dedup: { table: string; ttlMs: number; cleanupIntervalMs: number } | false;
  feeds: { table: string; counterTable: string; maxItems: number; maxWaitMs: number; pollIntervalMs: number } | false;
  identify: ((req: IncomingMessage) => string) | undefined;
  maxBodyBytes: number;
  retryAfterSeconds: number;
  acquire: boolean;
  drainTimeoutMs: number;
  idleInTransactionTimeoutMs: number | false;
  statementTimeoutMs: number | false;
  maxConcurrentTransactions: number | undefined;
  telemetry: TelemetryOptions | undefined;
  metrics: { port: number; host: string } | undefined;
  logger: Logger | undefined;
}

const KNOWN = [
  'lease',
  'port',
  'host',
  'handlers',
  'rpcPath',
  'healthPath',
  'dedup',
  'feeds',
  'identify',
  'logger',
  'maxBodyBytes',
  'retryAfterSeconds',
  'acquire',
  'drainTimeoutMs',
  'idleInTransactionTimeoutMs',
  'statementTimeoutMs',
  'maxConcurrentTransactions',
  'telemetry',
  'metrics',
] as const;

function requirePath(field: string, value: unknown): string {
  const path = requireNonEmptyString(field, value);
  if (!path.startsWith('/') || /[\s?#]/.test(path)) throw new ConfigurationError(field, "must be a path starting with '/', without query or spaces");
  return path;
}

function requireLease(value: unknown): Lease {
  const lease = value as Partial<Lease> | undefined;
  if (
    typeof lease !== 'object' ||
    lease === null ||
    typeof lease.acquire !== 'function' ||
    typeof lease.assertHeld !== 'function' ||
    typeof lease.release !== 'function' ||
    typeof lease.store?.transaction !== 'function'
  ) {
    throw new ConfigurationError('lease', 'must be a lease from createLease()');
  }
  return lease as Lease;
}

/**
 * The lease's machine name, which every answer of the node carries as `X-Hotcold-Node`. The lease
 * accepts any well-formed text (it is a database value), but a header value must be visible
 * ASCII: checked here, or `nœud-1` crashed the node at its first response (`ERR_INVALID_CHAR`).
 * @throws {ConfigurationError} naming `lease.machineName`
 */
export function nodeMachineName(lease: Lease): string {
  const machine = lease.options?.machineName ?? lease.holderId.split('#')[0] ?? 'node';
  return requireHeaderText(machine, 'lease.machineName');
}

export function resolveNodeOptions(input: NodeOptions): ResolvedNodeOptions {
  const options = requireObject('options', input);
  rejectUnknownKeys('', options, KNOWN);
  const lease = requireLease(options.lease);
  const machine = nodeMachineName(lease);
  const port = requireNonNegativeInteger('port', options.port);
  if (port > 65535) throw new ConfigurationError('port', 'must be <= 65535');
  const host = options.host === undefined ? '127.0.0.1' : requireNonEmptyString('host', options.host);

  const handlerObject = requireObject('handlers', options.handlers);
  const handlers = new Map<string, Handlers[string]>();
  for (const [name, handler] of Object.entries(handlerObject)) {
    if (typeof handler !== 'function') throw new ConfigurationError(`handlers.${name}`, 'must be a function');
    if (name === FEED_METHOD || name.startsWith('hotcold.')) throw new ConfigurationError(`handlers.${name}`, "names starting with 'hotcold.' are reserved");
    handlers.set(name, handler as Handlers[string]);
  }

  const rpcPath = options.rpcPath === undefined ? DEFAULT_RPC_PATH : requirePath('rpcPath', options.rpcPath);
  const healthPath = options.healthPath === undefined ? DEFAULT_HEALTH_PATH : requirePath('healthPath', options.healthPath);
  if (rpcPath === healthPath) throw new ConfigurationError('healthPath', 'must differ from rpcPath');

  let dedup: ResolvedNodeOptions['dedup'] = false;
  if (options.dedup !== false) {
    const d = options.dedup === undefined ? {} : requireObject('dedup', options.dedup);
    rejectUnknownKeys('dedup', d, ['table', 'ttlMs', 'cleanupIntervalMs']);
    dedup = {
      table: d.table === undefined ? 'hotcold_idempotency' : requireSqlIdentifier('dedup.table', d.table),
      ttlMs: d.ttlMs === undefined ? 24 * 3600_000 : requirePositiveInteger('dedup.ttlMs', d.ttlMs),
      cleanupIntervalMs: d.cleanupIntervalMs === undefined ? 600_000 : requirePositiveInteger('dedup.cleanupIntervalMs', d.cleanupIntervalMs),
    };
    if (dedup.table.length > 55) throw new ConfigurationError('dedup.table', 'must be at most 55 characters (an index name is derived from it)');
  }

  let feeds: ResolvedNodeOptions['feeds'] = false;
  if (options.feeds !== false) {
    const f = options.feeds === undefined ? {} : requireObject('feeds', options.feeds);
    rejectUnknownKeys('feeds', f, ['table', 'maxItems', 'maxWaitMs', 'pollIntervalMs']);
    const table = f.table === undefined ? 'hotcold_feed' : requireSqlIdentifier('feeds.table', f.table);
    if (table.length > 59) throw new ConfigurationError('feeds.table', 'must be at most 59 characters (the counter table is <table>_seq)');
    feeds = {
      table,
      counterTable: `${table}_seq`,
      maxItems: f.maxItems === undefined ? 500 : requirePositiveInteger('feeds.maxItems', f.maxItems),
      maxWaitMs: f.maxWaitMs === undefined ? 25_000 : requireNonNegativeInteger('feeds.maxWaitMs', f.maxWaitMs),
      pollIntervalMs: f.pollIntervalMs === undefined ? 250 : requirePositiveInteger('feeds.pollIntervalMs', f.pollIntervalMs),
    };
  }

  if (options.identify !== undefined && typeof options.identify !== 'function') throw new ConfigurationError('identify', 'must be a function');
  const maxBodyBytes = options.maxBodyBytes === undefined ? 1 << 20 : requirePositiveInteger('maxBodyBytes', options.maxBodyBytes);
  const retryAfterSeconds = options.retryAfterSeconds === undefined ? 1 : requireNonNegativeInteger('retryAfterSeconds', options.retryAfterSeconds);
  const acquire = options.acquire === undefined ? true : requireBoolean('acquire', options.acquire);
  const drainTimeoutMs = options.drainTimeoutMs === undefined ? 10_000 : requirePositiveInteger('drainTimeoutMs', options.drainTimeoutMs);

  // Half the wait: a frozen node's transaction is ended before a standby may take over.
  const waitInterval = (lease.options as { waitInterval?: unknown } | undefined)?.waitInterval;
  const idleDefault = typeof waitInterval === 'number' && waitInterval > 0 ? Math.max(1, Math.floor(waitInterval / 2)) : 20_000;
  const idleInTransactionTimeoutMs =
    options.idleInTransactionTimeoutMs === undefined
      ? idleDefault
      : options.idleInTransactionTimeoutMs === false
        ? false
        : requirePositiveInteger('idleInTransactionTimeoutMs', options.idleInTransactionTimeoutMs);
  // Half the wait too: a dead or frozen node's waiting statement is ended (and, on PostgreSQL,
  // its locks released) before a standby may take over, and on MariaDB — where the fence's share
  // lock holds up the renewal — before the holder's own renewal misses its deadline (U <= W/2).
  const statementTimeoutMs =
    options.statementTimeoutMs === undefined
      ? idleDefault
      : options.statementTimeoutMs === false
        ? false
        : requirePositiveInteger('statementTimeoutMs', options.statementTimeoutMs);

  const telemetry = requireTelemetryOptions('telemetry', options.telemetry);
  let metrics: ResolvedNodeOptions['metrics'];
  if (options.metrics !== undefined) {
    const m = requireObject('metrics', options.metrics);
    rejectUnknownKeys('metrics', m, ['port', 'host']);
    const metricsPort = requireNonNegativeInteger('metrics.port', m.port);
    if (metricsPort > 65535) throw new ConfigurationError('metrics.port', 'must be <= 65535');
    if (metricsPort !== 0 && metricsPort === port) throw new ConfigurationError('metrics.port', 'must differ from port (the endpoint has a listener of its own)');
    metrics = { port: metricsPort, host: m.host === undefined ? host : requireNonEmptyString('metrics.host', m.host) };
    if (telemetry?.meterProvider !== undefined) {
      throw new ConfigurationError('metrics', 'cannot be combined with telemetry.meterProvider: the endpoint has a provider of its own (to scrape yours, add a PrometheusExporter reader to it)');
    }
  }

  return {
    lease,
    machine,
    port,
    host,
    handlers,
    rpcPath,
    healthPath,
    dedup,
    feeds,
    identify: options.identify as ResolvedNodeOptions['identify'],
    maxBodyBytes,
    retryAfterSeconds,
    acquire,
    drainTimeoutMs,
    idleInTransactionTimeoutMs,
    statementTimeoutMs,
    maxConcurrentTransactions:
      options.maxConcurrentTransactions === undefined ? undefined : requirePositiveInteger('maxConcurrentTransactions', options.maxConcurrentTransactions),
    telemetry,
    metrics,
    logger: resolveLogger('logger', options.logger),
  };
}

/**
 * Checks `stop()`'s options before the node's one stop begins (a refused call must not become
 * it). A `timeoutMs` that is no time would change what the drain does: NaN waited with no bound,
 * a string was added to the clock as text (the drain ended at once, aborting the calls it was to
 * let finish), a negative skipped it.
 * @throws {ConfigurationError} naming `timeoutMs`
 */
export function checkStopOptions(options: StopOptions): void {
  if (typeof options !== 'object' || (options as unknown) === null) throw new ConfigurationError('options', 'must be an object ({ drain?, timeoutMs? })');
  if (options.timeoutMs !== undefined) requireMs('timeoutMs', options.timeoutMs, { allowZero: true });
}
