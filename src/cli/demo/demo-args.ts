import { ConfigurationError } from '../../errors.js';
import { requirePgConnectionString } from '../../lease/stores/connection-string.js';
import type { BalancerKind } from './balancer.js';
import { decimalFlag, formatHelp, GIVEN_TWICE, HELP_FLAG, integerFlag, parseFlags, type FlagSpecs, type FlagValues } from '../flags.js';

/** The flags of `hotcold demo`. */
export const DEMO_FLAGS = {
  planned: { type: 'boolean', description: 'planned switchover (SIGTERM: drain, release the lease) instead of SIGKILL', default: 'off' },
  db: { type: 'string', value: 'URL', description: 'postgres://user@host:5432/db: a fresh database is created next to the one named (needs CREATEDB) and dropped afterwards', default: 'SQLite in a temp folder' },
  lb: { type: 'string', value: 'dev|haproxy', description: 'balancer: the in-process dev balancer or real HAProxy', default: 'dev' },
  json: { type: 'boolean', description: 'print only the summary, as one JSON object, on stdout (progress goes to stderr)', default: 'off' },
  report: { type: 'string', value: 'FILE', description: "also write a self-contained HTML page: calls per second per node, each node's state and epoch, the outage, retries, failures, the summary table", default: 'none' },
  seconds: { type: 'string', value: 'N', description: 'seconds of load, fault included (fractions allowed, at most 600)', default: '8' },
  duration: { type: 'string', value: 'N', description: 'the same as --seconds', default: '8' },
  callers: { type: 'string', value: 'N', description: 'concurrent callers (at most 1000)', default: '16' },
  help: HELP_FLAG,
} as const satisfies FlagSpecs;

export const DEMO_USAGE = `${formatHelp(
  'usage: hotcold demo [options]',
  DEMO_FLAGS,
  `Starts two hotcold nodes on one lease database, a balancer in front of them and a client making
keyed, non-idempotent transfers; then kills the hot node (or drains it with --planned) and
checks the ledger: nothing acknowledged may be lost, nothing may run twice.`,
)}

Exit status: 0 when nothing was lost or duplicated, 1 otherwise, 2 for bad options.`;

export interface DemoArgs {
  help: boolean;
  planned: boolean;
  db: string | undefined;
  lb: BalancerKind;
  json: boolean;
  /** `--report FILE`: where to write the HTML report (undefined: none). */
  report: string | undefined;
  callers: number;
  warmupMs: number;
  afterMs: number;
}

/**
 * Parses the flags of `hotcold demo`.
 * @throws ConfigurationError naming the flag.
 */
export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const reportNeedsFile = (): ConfigurationError => new ConfigurationError('--report', 'needs a file name (e.g. --report failover.html)');
  let values: FlagValues<typeof DEMO_FLAGS>;
  try {
    ({ values } = parseFlags(DEMO_FLAGS, argv));
  } catch (error) {
    // `--report` as the last argument, or followed by another flag (`--report --json`).
    if (error instanceof ConfigurationError && error.field === '--report' && error.reason !== GIVEN_TWICE) throw reportNeedsFile();
    throw error;
  }
  const args: DemoArgs = { help: values.help === true, planned: values.planned === true, db: undefined, lb: 'dev', json: values.json === true, report: undefined, callers: 16, warmupMs: 0, afterMs: 0 };
  if (values.report !== undefined) {
    if (values.report === '' || values.report.startsWith('-')) throw reportNeedsFile();
    args.report = values.report;
  }
  if (values.db !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(values.db)) throw new ConfigurationError('--db', 'must be a postgres:// URL (the default is SQLite in a temp folder)');
    // Here, not when the demo connects: a port out of range or a bad percent-encoding is a usage
    // error (exit 2), not a run that failed with pg's bare "Invalid URL".
    requirePgConnectionString('--db', values.db);
    args.db = values.db;
  }
  if (values.lb !== undefined) {
    if (values.lb !== 'dev' && values.lb !== 'haproxy') throw new ConfigurationError('--lb', "must be 'dev' or 'haproxy'");
    args.lb = values.lb;
  }
  if (values.seconds !== undefined && values.duration !== undefined) throw new ConfigurationError('--duration', 'is the same as --seconds: give one of them');
  const seconds = values.seconds !== undefined ? decimalFlag('--seconds', values.seconds, 600) : values.duration !== undefined ? decimalFlag('--duration', values.duration, 600) : 8;
  if (values.callers !== undefined) args.callers = integerFlag('--callers', values.callers, { min: 1, max: 1000 });
  // The fault comes 40 % into the run; at least 1.5 s of steady load before and after it.
  args.warmupMs = Math.max(1500, Math.round(seconds * 400));
  args.afterMs = Math.max(1500, Math.round(seconds * 1000) - args.warmupMs);
  return args;
}
