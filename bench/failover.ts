/**
 * Failover benchmark: crash failover and planned switchover through the dev balancer and through
 * real HAProxy, each repeated, with updateInterval 200 ms, waitInterval 1000 ms and balancer
 * checks every 100 ms. Lease database: PostgreSQL when reachable, SQLite otherwise (the row's
 * note says which).
 *
 * Targets (issue 4): crash outage <= waitInterval + one check + 300 ms = 1400 ms, zero lost,
 * zero duplicated; planned switchover zero failed calls, slowest call <= 1 s.
 *
 * Attempts per call (issue 8 §3, bench/failover-attempts.ts): 200 hotcold callers next to 200
 * callers of a naive p-retry+opossum wrapper through one crash, on one client and on 200 clients;
 * hotcold <= 2.0 attempts per window call and <= the naive wrapper, 0 failed calls.
 * HOTCOLD_BENCH_FAILOVER_PARTS=attempts (or scenarios) runs one part alone.
 */
import net from 'node:net';
import os from 'node:os';
import { createPostgresDatabase, createSqliteDatabase, type RunDatabase } from '../src/cli/demo/database.js';
import { findHaproxy } from '../src/cli/demo/haproxy.js';
import type { RunSummary } from '../src/cli/demo/report.js';
import { runScenario } from '../src/cli/demo/scenario.js';
import { attemptsRun, type AttemptsRun, type Layout } from './failover-attempts.js';
import type { BenchRow } from './report.js';

const UPDATE_MS = 200;
const WAIT_MS = 1000;
const CHECK_MS = 100;
const OUTAGE_TARGET_MS = WAIT_MS + CHECK_MS + 300;
const REPETITIONS = Number(process.env.HOTCOLD_BENCH_FAILOVER_REPS ?? 3);
const CALLERS = 16;
const PG_URL = process.env.HOTCOLD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? Number.NaN : sorted.length % 2 ? (sorted[mid] ?? 0) : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
};
const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);

async function once(scenario: 'crash' | 'planned', lb: 'dev' | 'haproxy', usePostgres: boolean): Promise<RunSummary> {
  const db: RunDatabase = usePostgres ? await createPostgresDatabase(PG_URL) : await createSqliteDatabase();
  try {
    const { summary } = await runScenario({
      scenario,
      db,
      lb,
      callers: CALLERS,
      updateIntervalMs: UPDATE_MS,
      waitIntervalMs: WAIT_MS,
      checkIntervalMs: CHECK_MS,
      warmupMs: 1500,
      afterMs: 1500,
    });
    return summary;
  } finally {
    await db.dispose();
  }
}

export async function runBench(): Promise<BenchRow[]> {
  // HOTCOLD_BENCH_FAILOVER_DB=sqlite|postgres forces one; default PostgreSQL when reachable.
  const forced = process.env.HOTCOLD_BENCH_FAILOVER_DB;
  const usePostgres = forced === 'sqlite' ? false : forced === 'postgres' ? true : await reachable('127.0.0.1', 5432);
  const parts = (process.env.HOTCOLD_BENCH_FAILOVER_PARTS ?? 'scenarios,attempts').split(',');
  const rows: BenchRow[] = [];
  if (parts.includes('scenarios')) rows.push(...(await scenarioRows(usePostgres)));
  if (parts.includes('attempts')) rows.push(...(await attemptRows(usePostgres)));
  return rows;
}

const ATTEMPT_CALLERS = 200;
const ATTEMPTS_TARGET = 2.0;

/** min–median–max of a figure over the runs, for the note. */
const spread = (values: readonly number[], digits = 2): string =>
  `${Math.min(...values).toFixed(digits)}–${median(values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/** Failure kinds summed over runs, as `{kind: n}` (empty when none failed). */
function kinds(perRun: ReadonlyArray<Record<string, number>>): string {
  const total: Record<string, number> = {};
  for (const run of perRun) for (const [k, n] of Object.entries(run)) total[k] = (total[k] ?? 0) + n;
  return Object.keys(total).length === 0 ? '' : JSON.stringify(total);
}

async function attemptRows(usePostgres: boolean): Promise<BenchRow[]> {
  const dbName = usePostgres ? 'postgres' : 'sqlite';
  const rows: BenchRow[] = [];
  const layouts = (process.env.HOTCOLD_BENCH_FAILOVER_LAYOUTS ?? 'one-client,per-caller-clients').split(',') as Layout[];
  for (const layout of layouts) {
    const runs: AttemptsRun[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      process.stderr.write(`bench failover: attempts per call, ${layout}, crash ${i + 1}/${REPETITIONS}\n`);
      const db: RunDatabase = usePostgres ? await createPostgresDatabase(PG_URL) : await createSqliteDatabase();
      try {
        runs.push(await attemptsRun({ db, layout, callers: ATTEMPT_CALLERS, updateIntervalMs: UPDATE_MS, waitIntervalMs: WAIT_MS, checkIntervalMs: CHECK_MS }));
      } finally {
        await db.dispose();
      }
    }
    const suite = `failover/attempts/${layout === 'one-client' ? '1 client' : `${ATTEMPT_CALLERS} clients`}/${dbName}`;
    const hot = runs.map((r) => r.hotcold.meanAttempts);
    const naive = runs.map((r) => r.naive.meanAttempts);
    const hotMedian = median(hot);
    const naiveMedian = median(naive);
    const hotFailed = sum(runs.map((r) => r.hotcold.failedInWindow));
    const naiveFailed = sum(runs.map((r) => r.naive.failedInWindow));
    const load = runs.map((r) => r.loadAverage.toFixed(1)).join('/');
    const note = `${REPETITIONS} crashes, ${ATTEMPT_CALLERS} hotcold + ${ATTEMPT_CALLERS} naive callers at once; min–median–max; load average at the crash ${load} on ${os.cpus().length} CPUs`;
    rows.push(
      { suite, name: 'hotcold: HTTP attempts per window call, median of runs', value: hotMedian, unit: 'attempts', target: `<= ${ATTEMPTS_TARGET} and <= naive`, pass: hotMedian <= ATTEMPTS_TARGET && hotMedian <= naiveMedian, note: `${spread(hot)}; ${note}` },
      { suite, name: 'naive p-retry(10)+opossum: HTTP attempts per window call, median of runs', value: naiveMedian, unit: 'attempts', note: spread(naive) },
      { suite, name: 'hotcold / naive (ratio of the two medians above)', value: hotMedian / naiveMedian, unit: 'x', target: '<= 1', pass: hotMedian <= naiveMedian },
      { suite, name: 'hotcold: max attempts of one call', value: Math.max(...runs.map((r) => r.hotcold.maxAttempts)), unit: 'attempts', note: `naive max ${Math.max(...runs.map((r) => r.naive.maxAttempts))}` },
      { suite, name: 'hotcold: window calls per run, median', value: median(runs.map((r) => r.hotcold.windowCalls)), unit: 'calls', note: `${spread(runs.map((r) => r.hotcold.windowCalls), 0)}; naive ${spread(runs.map((r) => r.naive.windowCalls), 0)}` },
      { suite, name: 'hotcold: failed calls in the window (total)', value: hotFailed, unit: 'calls', target: '0', pass: hotFailed === 0, note: `whole runs: ${sum(runs.map((r) => r.hotcold.failedTotal))} ${kinds(runs.map((r) => r.hotcold.failuresByKind))}` },
      { suite, name: 'naive: failed calls in the window (total)', value: naiveFailed, unit: 'calls', note: `whole runs: ${sum(runs.map((r) => r.naive.failedTotal))} ${kinds(runs.map((r) => r.naive.failuresByKind))}` },
      { suite, name: 'hotcold: crash -> first success on the new node, median', value: median(runs.map((r) => r.hotcold.firstSuccessMs)), unit: 'ms', note: `${spread(runs.map((r) => r.hotcold.firstSuccessMs), 0)}; naive ${spread(runs.map((r) => r.naive.firstSuccessMs), 0)}` },
      { suite, name: 'hotcold: health probes per client (whole run), median', value: median(runs.map((r) => r.hotcold.probesPerClient ?? 0)), unit: 'probes', note: spread(runs.map((r) => r.hotcold.probesPerClient ?? 0)) },
    );
  }
  return rows;
}

async function scenarioRows(usePostgres: boolean): Promise<BenchRow[]> {
  const dbName = usePostgres ? 'postgres' : 'sqlite';
  const balancers: Array<'dev' | 'haproxy'> = findHaproxy() ? ['dev', 'haproxy'] : ['dev'];
  const rows: BenchRow[] = [];
  if (!findHaproxy()) process.stderr.write('bench failover: haproxy not installed, HAProxy rows skipped\n');
  for (const lb of balancers) {
    const suite = `failover/${lb === 'dev' ? 'dev-lb' : 'haproxy'}/${dbName}`;
    const crash: RunSummary[] = [];
    const planned: RunSummary[] = [];
    for (let i = 0; i < REPETITIONS; i++) {
      process.stderr.write(`bench failover: ${lb} crash ${i + 1}/${REPETITIONS}\n`);
      crash.push(await once('crash', lb, usePostgres));
      process.stderr.write(`bench failover: ${lb} planned ${i + 1}/${REPETITIONS}\n`);
      planned.push(await once('planned', lb, usePostgres));
    }
    const outages = crash.map((s) => s.outageMs);
    const note = `${REPETITIONS} runs, ${CALLERS} callers, update ${UPDATE_MS} / wait ${WAIT_MS} / check ${CHECK_MS} ms`;
    const crashLost = sum(crash.map((s) => s.lost));
    const crashDup = sum(crash.map((s) => s.duplicates));
    const crashLies = sum(crash.map((s) => s.misclassified));
    const plannedFailed = sum(planned.map((s) => s.failedCalls));
    const plannedSlowest = Math.max(...planned.map((s) => s.slowestFailoverCallMs));
    rows.push(
      { suite, name: 'crash: client-observed outage, median', value: median(outages), unit: 'ms', target: `<= ${OUTAGE_TARGET_MS}`, pass: median(outages) <= OUTAGE_TARGET_MS, note },
      { suite, name: 'crash: client-observed outage, max', value: Math.max(...outages), unit: 'ms', target: `<= ${OUTAGE_TARGET_MS}`, pass: Math.max(...outages) <= OUTAGE_TARGET_MS },
      { suite, name: 'crash: fault -> first call on new node, median', value: median(crash.map((s) => s.takeoverMs ?? Number.NaN)), unit: 'ms' },
      { suite, name: 'crash: calls (total)', value: sum(crash.map((s) => s.calls)), unit: 'calls' },
      { suite, name: 'crash: failed calls (total, truthfully classified)', value: sum(crash.map((s) => s.failedCalls)), unit: 'calls' },
      { suite, name: 'crash: lost', value: crashLost, unit: 'calls', target: '0', pass: crashLost === 0 },
      { suite, name: 'crash: duplicated', value: crashDup, unit: 'calls', target: '0', pass: crashDup === 0 },
      { suite, name: 'crash: misclassified', value: crashLies, unit: 'calls', target: '0', pass: crashLies === 0 },
      { suite, name: 'planned: calls (total)', value: sum(planned.map((s) => s.calls)), unit: 'calls' },
      { suite, name: 'planned: failed calls', value: plannedFailed, unit: 'calls', target: '0', pass: plannedFailed === 0 },
      { suite, name: 'planned: slowest call across the switchover', value: plannedSlowest, unit: 'ms', target: '<= 1000', pass: plannedSlowest <= 1000 },
      { suite, name: 'planned: slowest call (whole run)', value: Math.max(...planned.map((s) => s.slowestCallMs)), unit: 'ms' },
      { suite, name: 'crash: longest gap after the fault, max', value: Math.max(...crash.map((s) => s.longestGapMs)), unit: 'ms', note: 'includes gaps not caused by the failover (lease lost under load)' },
      { suite, name: 'planned: lost + duplicated', value: sum(planned.map((s) => s.lost + s.duplicates)), unit: 'calls', target: '0', pass: sum(planned.map((s) => s.lost + s.duplicates)) === 0 },
    );
  }
  return rows;
}
