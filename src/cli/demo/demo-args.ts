import { ConfigurationError } from '../../errors.js';
import { requirePositive, requirePositiveInteger } from '../../shared/validate.js';
import type { BalancerKind } from './balancer.js';

export const DEMO_USAGE = `usage: hotcold demo [options]

Starts two hotcold nodes on one lease database, a balancer in front of them and a client making
keyed, non-idempotent transfers; then kills the hot node (or drains it with --planned) and
checks the ledger: nothing acknowledged may be lost, nothing may run twice.

options:
  --planned            planned switchover (SIGTERM: drain, release the lease) instead of SIGKILL
  --db URL             postgres://user@host:5432/db: a fresh database is created next to the one
                       named (needs CREATEDB) and dropped afterwards. Default: SQLite in a temp folder
  --lb dev|haproxy     balancer: the in-process dev balancer (default) or real HAProxy
  --json               print the summary as one JSON object on stdout (progress goes to stderr)
  --report FILE        also write a self-contained HTML page: calls per second per node, each
                       node's state and epoch, the outage, retries, failures, the summary table
  --seconds N          seconds of load, fault included (alias --duration; default 8)
  --callers N          concurrent callers (default 16)
  -h, --help           this text

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

function boundedNumber(field: string, raw: string | undefined, max: number, integer: boolean): number {
  const value = raw === undefined ? Number.NaN : Number(raw);
  const checked = integer ? requirePositiveInteger(field, value) : requirePositive(field, value);
  if (checked > max) throw new ConfigurationError(field, `must be at most ${max}`);
  return checked;
}

export function parseDemoArgs(argv: readonly string[]): DemoArgs {
  const args: DemoArgs = { help: false, planned: false, db: undefined, lb: 'dev', json: false, report: undefined, callers: 16, warmupMs: 0, afterMs: 0 };
  let seconds = 8;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    const [flag, inline] = arg.startsWith('--') && arg.includes('=') ? [arg.slice(0, arg.indexOf('=')), arg.slice(arg.indexOf('=') + 1)] : [arg, undefined];
    const value = (): string | undefined => inline ?? argv[++i];
    switch (flag) {
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '--planned':
        args.planned = true;
        break;
      case '--json':
        args.json = true;
        break;
      case '--report': {
        const file = value();
        if (file === undefined || file === '' || file.startsWith('-')) throw new ConfigurationError('--report', 'needs a file name (e.g. --report failover.html)');
        args.report = file;
        break;
      }
      case '--db': {
        const db = value();
        if (db === undefined || !/^postgres(ql)?:\/\//.test(db)) throw new ConfigurationError('--db', 'must be a postgres:// URL (the default is SQLite in a temp folder)');
        args.db = db;
        break;
      }
      case '--lb': {
        const lb = value();
        if (lb !== 'dev' && lb !== 'haproxy') throw new ConfigurationError('--lb', "must be 'dev' or 'haproxy'");
        args.lb = lb;
        break;
      }
      case '--seconds':
      case '--duration':
        seconds = boundedNumber(flag, value(), 600, false);
        break;
      case '--callers':
        args.callers = boundedNumber('--callers', value(), 1000, true);
        break;
      default:
        throw new ConfigurationError(arg, 'is not a known option of hotcold demo (see --help)');
    }
  }
  // The fault comes 40 % into the run; at least 1.5 s of steady load before and after it.
  args.warmupMs = Math.max(1500, Math.round(seconds * 400));
  args.afterMs = Math.max(1500, Math.round(seconds * 1000) - args.warmupMs);
  return args;
}
