/**
 * `hotcold node`: runs a reference node (createLease + createNode) with the demo ledger app.
 *
 * Flags: NODE_FLAGS below (`hotcold node --help` lists them with their defaults).
 *
 * Stdout: one JSON object per line —
 *   {"event":"listening","port":N,"host":"…","url":"http://…","machine":"…","pid":N}  once, when ready
 *     (with --metrics-port also "metricsPort":N,"metricsUrl":"http://…/metrics")
 *   {"event":"lease","status":"standby|acquiring|active|lost|released|closed","token":N?,"holder":"…"?}  on every lease change
 *   {"event":"node","status":"active|standby|draining|lost|stopped","token":N?}  on every node status change
 *   {"event":"draining","signal":"SIGTERM"}  then  {"event":"stopped","code":0}
 * Stderr: the log, pino JSON lines ({"level":"info","time":"…","node":"A","epoch":N,"msg":"…",…}):
 * one `request` record per JSON-RPC call (method, key, outcome, httpStatus, durationMs), lease
 * and node changes and every fault, at `--log-level` and above (docs/logging.md). Stdout stays
 * the machine-readable event stream above, so that a supervisor parsing it is not flooded.
 * SIGTERM or SIGINT: graceful drain (health → draining, in-flight calls finish, lease released),
 * then exit 0. A second signal exits at once with code 1. If the shutdown has not finished
 * --drain-timeout + 15 s after the signal (each step is bounded; this is the backstop, e.g. for a
 * frozen database), the process exits with code 1.
 */
import { hostname } from 'node:os';
import { pino, type Logger as PinoLogger } from 'pino';
import { ConfigurationError } from '../errors.js';
import { createLease, storeFromUrl } from '../lease/index.js';
import { createNode } from '../node/index.js';
import { requireNonEmptyString, requireOneOf, requireSqlIdentifier } from '../shared/validate.js';
import { redactText } from '../shared/redact.js';
import { ledgerApp } from '../testing/ledger-app.js';
import { conformanceApp } from '../testing/conformance-app.js';
import { MAX_TIMER_DELAY_MS, setTimer } from '../shared/timer.js';
import { watchOutput } from './output.js';
import { asFlagError, formatHelp, HELP_FLAG, integerFlag, parseFlags, type FlagSpecs, type FlagValues } from './flags.js';

/** What the shutdown may take beyond the drain: releasing the lease (a statement bound, at most 5 s, + 1 s) and closing the store (2 × CLOSE_BOUND_MS), with room to spare. */
const SHUTDOWN_GRACE_MS = 15_000;

/** The flags of `hotcold node` (stable: the demo, the HAProxy suite and the failover bench spawn this command). */
export const NODE_FLAGS = {
  db: { type: 'string', value: 'URL', description: 'lease and application database: postgres://…, mysql://…, mariadb://…, sqlite:/path or a file path (HOTCOLD_DB keeps a password out of `ps`)', default: '$HOTCOLD_DB; required' },
  port: { type: 'string', value: 'N', description: 'HTTP port; 0 picks a free one (read it from the `listening` line)', default: '0' },
  host: { type: 'string', value: 'H', description: 'bind address', default: '127.0.0.1' },
  machine: { type: 'string', value: 'NAME', description: 'machine name (X-Hotcold-Node header, lease holder)', default: 'the host name' },
  'update-interval': { type: 'string', value: 'MS', description: 'lease renewal interval', default: '20000' },
  'wait-interval': { type: 'string', value: 'MS', description: 'lease takeover wait', default: '40000' },
  mode: { type: 'string', value: 'warm|cold', description: 'warm: take over automatically; cold: acquire at start, stay lost after a loss', default: 'warm' },
  app: { type: 'string', value: 'ledger|conformance', description: 'the application: `ledger`, or `conformance`, the conformance methods of docs/wire.md §11 (for `hotcold conformance <url>`; never in production)', default: 'ledger' },
  table: { type: 'string', value: 'NAME', description: 'lease table', default: 'hotcold_lease' },
  'lease-name': { type: 'string', value: 'NAME', description: 'lease row name', default: 'hotcold' },
  prefix: { type: 'string', value: 'NAME', description: 'ledger tables prefix (<prefix>_entries, <prefix>_accounts)', default: 'ledger' },
  'dedup-table': { type: 'string', value: 'NAME', description: 'idempotency table', default: 'hotcold_idempotency' },
  'feed-table': { type: 'string', value: 'NAME', description: 'feed table', default: 'hotcold_feed' },
  'dedup-ttl': { type: 'string', value: 'MS', description: 'idempotency record lifetime', default: '86400000' },
  'drain-timeout': { type: 'string', value: 'MS', description: 'longest wait for in-flight calls on SIGTERM/SIGINT', default: '10000' },
  'max-transactions': { type: 'string', value: 'N', description: 'request transactions open at once', default: 'PostgreSQL 4, MariaDB 2, SQLite unlimited' },
  'idle-tx-timeout': { type: 'string', value: 'MS', description: 'the database ends request transactions idle this long', default: 'wait-interval / 2' },
  'metrics-port': {
    type: 'string',
    value: 'N',
    description: 'serve Prometheus metrics at http://<metrics-host>:N/metrics (lease, node and call instruments; docs/observability.md); 0 picks a free port (read it from the `listening` line)',
    default: 'off',
  },
  'metrics-host': { type: 'string', value: 'H', description: 'bind address of the metrics listener (with --metrics-port)', default: 'the --host value' },
  'log-level': {
    type: 'string',
    value: 'LEVEL',
    description: 'least level logged on stderr as JSON lines: debug (renewals, cleanups), info (one line per request, lease and node changes), warn, error, or silent',
    default: 'info',
  },
  help: HELP_FLAG,
} as const satisfies FlagSpecs;

const HELP = formatHelp(
  'usage: hotcold node --db URL [options]',
  NODE_FLAGS,
  `Runs a reference node serving the demo ledger app (or, with --app conformance, the conformance
methods) while it holds the lease. Prints JSON lines on stdout ({"event":"listening",…} when
ready) and logs JSON lines on stderr (pino: time, level, node, epoch, msg; a request line per
call). SIGTERM/SIGINT drain gracefully, then exit 0.`,
);

/** The option each flag sets, as createLease, createNode and the stores name it in a ConfigurationError. */
const NODE_FLAG_OF: Readonly<Record<string, string>> = {
  db: '--db',
  connectionString: '--db',
  uri: '--db',
  database: '--db',
  table: '--table',
  name: '--lease-name',
  machineName: '--machine',
  updateInterval: '--update-interval',
  waitInterval: '--wait-interval',
  port: '--port',
  host: '--host',
  drainTimeoutMs: '--drain-timeout',
  maxConcurrentTransactions: '--max-transactions',
  idleInTransactionTimeoutMs: '--idle-tx-timeout',
  'dedup.table': '--dedup-table',
  'dedup.ttlMs': '--dedup-ttl',
  'feeds.table': '--feed-table',
  'metrics.port': '--metrics-port',
  'metrics.host': '--metrics-host',
};

type NodeArgs = Omit<FlagValues<typeof NODE_FLAGS>, 'help'>;

/**
 * Parses the flags of `hotcold node`.
 * @throws ConfigurationError naming the flag (unknown flag, missing value, stray argument).
 */
export function parseNodeArgs(argv: string[]): NodeArgs | 'help' {
  const { values } = parseFlags(NODE_FLAGS, argv);
  if (values.help === true) return 'help';
  const { help: _help, ...rest } = values;
  return rest;
}

/** The range of each number flag: ports are ports, a duration must fit a timer. */
const PORT = { min: 0, max: 65535 };
const TIMER_MS = { min: 1, max: MAX_TIMER_DELAY_MS };
const COUNT = { min: 1, max: Number.MAX_SAFE_INTEGER };

const int = (flag: string, value: string | undefined, range: { min: number; max: number }): number | undefined =>
  value === undefined ? undefined : integerFlag(`--${flag}`, value, range);

function line(event: Record<string, unknown>, stdoutClosed: AbortSignal): void {
  if (!stdoutClosed.aborted) process.stdout.write(`${JSON.stringify(event)}\n`);
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error', 'silent'] as const;

/**
 * The command's log: pino JSON lines on stderr, written synchronously (the process may exit right
 * after a line), with the node's name and the epoch it serves (or last saw) on every line.
 */
function nodeLogger(level: (typeof LOG_LEVELS)[number], machine: string, epoch: () => number | undefined): PinoLogger {
  return pino(
    {
      level,
      base: { node: machine, pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      // A record's own epoch (a request's) wins over the mixin's.
      mixin: () => ({ epoch: epoch() }),
    },
    pino.destination({ fd: 2, sync: true }),
  );
}

export async function runNodeCommand(argv: string[]): Promise<number> {
  const args = parseNodeArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const db = args.db ?? process.env.HOTCOLD_DB;
  if (db === undefined || db === '') throw new ConfigurationError('--db', 'is required (a database URL or SQLite file path, or HOTCOLD_DB)');
  const mode = requireOneOf('--mode', args.mode ?? 'warm', ['warm', 'cold'] as const);
  const appName = requireOneOf('--app', args.app ?? 'ledger', ['ledger', 'conformance'] as const);
  // Refused, not ignored: the conformance app has tables of its own, not the ledger's.
  if (appName !== 'ledger' && args.prefix !== undefined) throw new ConfigurationError('--prefix', `is for --app ledger only, not --app ${appName}`);
  const app =
    appName === 'conformance' ? conformanceApp() : ledgerApp({ prefix: args.prefix === undefined ? 'ledger' : requireSqlIdentifier('--prefix', args.prefix) });
  const port = int('port', args.port, PORT) ?? 0;
  const updateInterval = int('update-interval', args['update-interval'], TIMER_MS);
  const waitInterval = int('wait-interval', args['wait-interval'], TIMER_MS);
  const drainTimeoutMs = int('drain-timeout', args['drain-timeout'], TIMER_MS) ?? 10_000;
  const dedupTtl = int('dedup-ttl', args['dedup-ttl'], COUNT);
  const maxTransactions = int('max-transactions', args['max-transactions'], COUNT);
  const idleTxTimeout = int('idle-tx-timeout', args['idle-tx-timeout'], TIMER_MS);
  const machine = args.machine ?? hostname();
  const metricsPort = int('metrics-port', args['metrics-port'], PORT);
  if (args['metrics-host'] !== undefined && metricsPort === undefined) throw new ConfigurationError('--metrics-host', 'needs --metrics-port');
  if (args['metrics-host'] !== undefined) requireNonEmptyString('--metrics-host', args['metrics-host']);
  const logLevel = requireOneOf('--log-level', args['log-level'] ?? 'info', LOG_LEVELS);
  // Read lazily: the lease exists only below, and the epoch changes as it is taken and lost.
  let epoch: () => number | undefined = () => undefined;
  const log = nodeLogger(logLevel, machine, () => epoch());
  // A reader of the event lines that went away (a supervisor that read `listening` and closed the
  // pipe) does not stop the node: it goes on serving, and says so on its log.
  const stdoutClosed = watchOutput();
  stdoutClosed.addEventListener('abort', () => log.warn('stdout was closed by its reader: event lines are no longer written; still serving'), { once: true });
  const say = (event: Record<string, unknown>): void => line(event, stdoutClosed);

  // The library names its options (waitInterval, dedup.table); the operator typed flags.
  const { store, lease, node } = (() => {
    try {
      const store = storeFromUrl(db, args.table === undefined ? {} : { table: args.table });
      const lease = createLease({
        store,
        machineName: machine,
        mode,
        ...(args['lease-name'] === undefined ? {} : { name: args['lease-name'] }),
        ...(updateInterval === undefined ? {} : { updateInterval }),
        ...(waitInterval === undefined ? {} : { waitInterval }),
        logger: log,
      });
      const node = createNode({
        logger: log,
        lease,
        port,
        host: args.host ?? '127.0.0.1',
        handlers: app.handlers,
        drainTimeoutMs,
        ...(maxTransactions === undefined ? {} : { maxConcurrentTransactions: maxTransactions }),
        ...(idleTxTimeout === undefined ? {} : { idleInTransactionTimeoutMs: idleTxTimeout }),
        dedup: {
          ...(args['dedup-table'] === undefined ? {} : { table: args['dedup-table'] }),
          ...(dedupTtl === undefined ? {} : { ttlMs: dedupTtl }),
        },
        feeds: args['feed-table'] === undefined ? {} : { table: args['feed-table'] },
        ...(metricsPort === undefined ? {} : { metrics: { port: metricsPort, ...(args['metrics-host'] === undefined ? {} : { host: args['metrics-host'] }) } }),
      });
      return { store, lease, node };
    } catch (error) {
      throw asFlagError(error, NODE_FLAG_OF);
    }
  })();
  epoch = () => lease.current?.token ?? lease.state.token;

  const leaseSub = lease.state$.subscribe((s) => say({ event: 'lease', status: s.status, token: s.token, holder: s.holder }));
  const nodeSub = node.state$.subscribe((s) => say({ event: 'node', status: s.status, token: s.token }));
  // A misconfiguration found while contending (a lease table of the wrong shape, a privilege
  // missing) ends the command with a non-zero exit rather than a node that never serves.
  let onFatal: (message: string) => void = () => undefined;
  const fatal = new Promise<string>((resolve) => (onFatal = resolve));
  // The node logs its events (failures included) through `log`; here only the fatal one matters.
  const eventSub = node.events$.subscribe((e) => {
    if (e.type === 'acquire-failed' && e.permanent === true) onFatal(e.error);
  });

  const shutdown = async (): Promise<void> => {
    leaseSub.unsubscribe();
    nodeSub.unsubscribe();
    eventSub.unsubscribe();
    await lease.close().catch((error: unknown) => log.warn({ error: redactText(String(error)) }, 'closing the lease failed'));
    await store.close().catch((error: unknown) => log.warn({ error: redactText(String(error)) }, 'closing the store failed'));
  };

  try {
    // The lease table first: a missing driver, a refused login, a missing database, a table of
    // the wrong shape or a missing privilege fails here with a typed error naming the fix.
    await store.init();
    await app.setup(store);
    const address = await node.start();
    const metricsAt = node.metricsAddress;
    say({
      event: 'listening',
      port: address.port,
      host: address.host,
      url: address.url,
      machine,
      pid: process.pid,
      ...(metricsAt === undefined ? {} : { metricsPort: metricsAt.port, metricsUrl: `${metricsAt.url}/metrics` }),
    });
  } catch (error) {
    await node.close().catch(() => undefined);
    await shutdown();
    // No cause on purpose: the original error may carry a credential (a connection string); only its
    // redacted message goes on.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(redactText(error instanceof Error ? error.message : String(error)));
  }

  const stopSignal = new Promise<NodeJS.Signals>((resolve) => {
    const on = (s: NodeJS.Signals): void => {
      process.off('SIGTERM', on);
      process.off('SIGINT', on);
      // A second signal: stop waiting for the drain.
      const force = (): void => process.exit(1);
      process.once('SIGTERM', force);
      process.once('SIGINT', force);
      resolve(s);
    };
    process.on('SIGTERM', on);
    process.on('SIGINT', on);
  });
  const outcome = await Promise.race([stopSignal.then((signal) => ({ signal })), fatal.then((message) => ({ message }))]);
  if ('message' in outcome) {
    await node.close().catch(() => undefined);
    await shutdown();
    throw new Error(redactText(outcome.message));
  }
  const { signal } = outcome;
  say({ event: 'draining', signal });
  // Armed BEFORE anything is awaited: a supervisor's stop must end the process even if a step of
  // the shutdown (a release, a pool's end) waits on a frozen database. Each step is bounded on its
  // own; this is the backstop for the whole.
  setTimer(() => {
    log.error({ timeoutMs: drainTimeoutMs + SHUTDOWN_GRACE_MS }, 'shutdown did not finish in time; exiting');
    process.exit(1);
  }, drainTimeoutMs + SHUTDOWN_GRACE_MS).unref();
  await node.stop({ drain: true, timeoutMs: drainTimeoutMs });
  await shutdown();
  say({ event: 'stopped', code: 0 });
  // Everything is closed; if a driver still holds a handle, do not hang a supervisor's stop.
  setTimer(() => process.exit(0), 2000).unref();
  return 0;
}
