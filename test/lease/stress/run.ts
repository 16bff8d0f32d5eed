/**
 * `npm run stress -- --seconds N [--store sqlite|postgres|mysql|all] [--seed S] [--no-self-fencing]
 *  [--scenario random|stale-holder] [--contenders N] [--faults kill,stop,block,conn,lock,restart,startup]`
 * `npm run stress -- --replication [--store postgres|mysql|all] [--mode async|sync|all] [--failovers N] [--runs N] [--seed S]`
 *
 * `--replication` runs the failover test of test/lease/replication (private primary + replica,
 * replication stalled, the primary killed, the replica promoted) instead: `--runs` clusters of
 * `--failovers` failovers each, per store and mode (sync: PostgreSQL `synchronous_commit = on`,
 * MariaDB semi-synchronous). Exit code 0 when no run shows a violation.
 *
 * Runs the lease safety stress suite for longer than `npm test` does and prints the checker's
 * summary per store. Exit code 0 when every run is safe (or, with --no-self-fencing, when the
 * checker caught the violation it must catch), else 1. Unreachable databases are skipped loudly.
 */
import { databaseAvailable } from '../../support/services.js';
import { mariadbCluster, postgresCluster } from '../replication/clusters.js';
import { runFailovers } from '../replication/driver.js';
import { FAULT_KINDS, type FaultKind } from './checker.js';
import { runStress, type Scenario } from './driver.js';
import { STORE_KINDS, type StoreKind } from './stores.js';

function usage(message: string): never {
  process.stderr.write(
    `${message}\nusage: npm run stress -- --seconds N [--store sqlite|postgres|mysql|all] [--seed S] [--no-self-fencing] [--scenario random|stale-holder] [--contenders N] [--faults ${FAULT_KINDS.join(',')}]\n` +
      '       npm run stress -- --replication [--store postgres|mysql|all] [--mode async|sync|all] [--failovers N] [--runs N] [--seed S]\n',
  );
  process.exit(2);
}

const args = process.argv.slice(2);
if (args.includes('--replication')) process.exit(await replication(args.filter((a) => a !== '--replication')));
let seconds = 60;
let storeArg = 'all';
let seed: number | undefined;
let selfFencing = true;
let scenario: Scenario = 'random';
let contenders = 5;
let faultKinds: FaultKind[] | undefined;
for (let i = 0; i < args.length; i++) {
  const arg = args[i];
  const value = (): string => args[++i] ?? usage(`${arg} needs a value`);
  switch (arg) {
    case '--seconds':
      seconds = Number(value());
      if (!Number.isFinite(seconds) || seconds <= 0) usage('--seconds must be a positive number');
      break;
    case '--store':
      storeArg = value();
      break;
    case '--seed':
      seed = Number(value());
      if (!Number.isSafeInteger(seed)) usage('--seed must be an integer');
      break;
    case '--no-self-fencing':
      selfFencing = false;
      break;
    case '--scenario': {
      const s = value();
      if (s !== 'random' && s !== 'stale-holder') usage('--scenario must be random or stale-holder');
      scenario = s;
      break;
    }
    case '--contenders':
      contenders = Number(value());
      if (!Number.isSafeInteger(contenders) || contenders < 2 || contenders > 100) usage('--contenders must be an integer from 2 to 100');
      break;
    case '--faults': {
      const list = value().split(',').map((k) => k.trim());
      const unknown = list.filter((k) => !FAULT_KINDS.includes(k as FaultKind));
      if (unknown.length > 0 || list.length === 0) usage(`--faults: unknown kind(s) ${unknown.join(', ')}`);
      faultKinds = list as FaultKind[];
      break;
    }
    default:
      usage(`unknown argument ${arg}`);
  }
}
const stores: StoreKind[] =
  storeArg === 'all' ? [...STORE_KINDS] : STORE_KINDS.includes(storeArg as StoreKind) ? [storeArg as StoreKind] : usage(`unknown store ${storeArg}`);

let ok = true;
for (const store of stores) {
  if (store !== 'sqlite' && !(await databaseAvailable(store))) continue;
  const report = await runStress({
    store,
    seconds,
    ...(seed !== undefined ? { seed } : {}),
    selfFencing,
    scenario,
    contenders,
    ...(faultKinds ? { faultKinds } : {}),
    progress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stdout.write(`${report.summary}\n`);
  const overlaps = report.result.violations.filter((v) => v.kind === 'overlap').length;
  if (selfFencing) {
    if (report.result.violations.length > 0 || report.unexpectedExits.length > 0) ok = false;
  } else {
    const caught = overlaps > 0;
    process.stdout.write(`  negative control: ${caught ? 'caught' : 'NOT CAUGHT'} (${overlaps} overlap violation(s))\n`);
    if (!caught) ok = false;
  }
}
process.exit(ok ? 0 : 1);

/** `--replication`: the failover runs; resolves to the exit code. */
async function replication(argv: string[]): Promise<number> {
  let store = 'all';
  let mode = 'all';
  let failovers = 4;
  let runs = 2;
  let replSeed: number | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = (): string => argv[++i] ?? usage(`${arg} needs a value`);
    const count = (name: string): number => {
      const n = Number(value());
      if (!Number.isSafeInteger(n) || n < 1 || n > 100) usage(`${name} must be an integer from 1 to 100`);
      return n;
    };
    if (arg === '--store') store = value();
    else if (arg === '--mode') mode = value();
    else if (arg === '--failovers') failovers = count('--failovers');
    else if (arg === '--runs') runs = count('--runs');
    else if (arg === '--seed') {
      replSeed = Number(value());
      if (!Number.isSafeInteger(replSeed)) usage('--seed must be an integer');
    } else usage(`unknown argument ${arg} (with --replication)`);
  }
  if (!['postgres', 'mysql', 'all'].includes(store)) usage('--store must be postgres, mysql or all with --replication');
  if (!['async', 'sync', 'all'].includes(mode)) usage('--mode must be async, sync or all');
  const stores = store === 'all' ? (['postgres', 'mysql'] as const) : ([store] as ['postgres' | 'mysql']);
  const modes = mode === 'all' ? (['async', 'sync'] as const) : ([mode] as ['async' | 'sync']);
  let failed = false;
  let total = 0;
  for (const s of stores) {
    for (const m of modes) {
      for (let r = 0; r < runs; r++) {
        const cluster = s === 'postgres' ? await postgresCluster(m === 'sync' ? 'on' : 'async') : await mariadbCluster(m === 'sync' ? 'semisync' : 'async');
        try {
          const report = await runFailovers({
            cluster,
            mode: m,
            failovers,
            synchronous: m === 'sync',
            ...(replSeed !== undefined ? { seed: replSeed + r } : {}),
            progress: (line) => process.stderr.write(`${line}\n`),
          });
          process.stdout.write(`${report.summary}\n`);
          total += report.violations.length;
          if (report.violations.length > 0) failed = true;
        } finally {
          await cluster.stop();
        }
      }
    }
  }
  process.stdout.write(`replication: ${total} violation(s) in total\n`);
  return failed ? 1 : 0;
}
