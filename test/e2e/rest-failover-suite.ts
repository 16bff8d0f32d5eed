/**
 * The REST failover suite every balancer runs (dev balancer, HAProxy): two REST ledger nodes
 * (test/support/rest-node-main.ts) as child processes on one SQLite file under the lease, the
 * balancer in front, and an axios instance with `attachPolicy` driving two kinds of load at once:
 * POSTs that carry an `Idempotency-Key` and POSTs that carry none. The hot node is SIGKILLed
 * (crash) or SIGTERMed (planned drain) under that load; afterwards the ledger table must show
 * every acknowledged request exactly once, nothing twice, and no "not executed" failure that ran.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { expect } from 'vitest';
import { attachPolicy } from '../../src/axios/index.js';
import type { CallRecord } from '../../src/cli/demo/call-log.js';
import { checkLedger, type LedgerVerdict } from '../../src/cli/demo/ledger-check.js';
import { startLoad } from '../../src/cli/demo/load.js';
import { sqliteStore } from '../../src/lease/index.js';
import { readLedger } from '../../src/testing/index.js';
import { spawnRestNode, type RestNodeProcess } from '../support/rest-node-process.js';

export interface RunningBalancer {
  url: string;
  stop(): Promise<void>;
}

export type StartBalancer = (a: RestNodeProcess, b: RestNodeProcess) => Promise<RunningBalancer>;

export type RestScenario = 'crash' | 'planned';

export interface RestScenarioResult {
  verdict: LedgerVerdict;
  keyed: CallRecord[];
  unkeyed: CallRecord[];
  failovers: number;
  summary: string;
}

const CALLERS_PER_KIND = 8;

/**
 * The test timeout of one scenario: a hang guard above the sum of its steps' own bounds on a
 * loaded machine, not a speed. Two node children start through tsx (up to 60 s each), then the
 * warm-up, the takeover and the load on the new node (20 s each at most). Under load (one CPU
 * burner, other suites, vitest niced 10) a crash scenario that lost nothing took 82-90 s and once
 * ran past the former 90 s.
 */
export const SCENARIO_TIMEOUT_MS = 240_000;

async function health(url: string): Promise<number> {
  try {
    const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(1000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return 0;
  }
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await condition())) {
    if (performance.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export async function runRestScenario(scenario: RestScenario, startBalancer: StartBalancer): Promise<RestScenarioResult> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-rest-e2e-'));
  const db = path.join(dir, 'ledger.db');
  const started: RestNodeProcess[] = [];
  let balancer: RunningBalancer | undefined;
  const agent = new http.Agent({ keepAlive: true });
  try {
    const a = await spawnRestNode({ machine: 'node-a', db });
    started.push(a);
    await waitFor('node-a active', async () => (await health(a.url)) === 200);
    const b = await spawnRestNode({ machine: 'node-b', db });
    started.push(b);
    await waitFor('node-b standby', async () => (await health(b.url)) === 503);
    balancer = await startBalancer(a, b);

    const api = axios.create({ baseURL: balancer.url, httpAgent: agent });
    const handle = attachPolicy(api, {
      routes: { 'POST /transfers': { idempotent: false } },
      healthPath: '/health',
      retry: { maxAttempts: 60, minDelayMs: 20, maxDelayMs: 250 },
      reconnect: { minDelayMs: 20, maxDelayMs: 200, probeTimeoutMs: 1000 },
      timeoutMs: 5000,
      deadlineMs: 30_000,
    });
    let failovers = 0;
    let faultAt = 0;
    const sub = handle.policy.failover$.subscribe(() => (failovers += 1));
    const transfer = (caller: number, key: string): { from: string; to: string; amount: number; ref: string } => ({ from: `c${caller}`, to: 'bank', amount: 1, ref: key });
    const keyed = startLoad({
      callers: CALLERS_PER_KIND,
      method: 'POST /transfers (keyed)',
      params: (caller, _seq, key) => transfer(caller, key),
      call: (_m, params, { idempotencyKey }) => api.post('/transfers', params, { headers: { 'Idempotency-Key': idempotencyKey } }),
    });
    const unkeyed = startLoad({
      callers: CALLERS_PER_KIND,
      method: 'POST /transfers (no key)',
      params: (caller, _seq, key) => transfer(caller + 100, key),
      call: (_m, params) => api.post('/transfers', params),
    });
    try {
      await waitFor('warm-up load', () => keyed.stats().ok >= 20 && unkeyed.stats().ok >= 20);
      faultAt = performance.now();
      a.child.signal(scenario === 'crash' ? 'SIGKILL' : 'SIGTERM');
      await waitFor('node-b active', async () => (await health(b.url)) === 200);
      const after = keyed.stats().ok + unkeyed.stats().ok;
      await waitFor('load on node-b', () => keyed.stats().ok + unkeyed.stats().ok >= after + 40);
    } finally {
      await Promise.all([keyed.stop(), unkeyed.stop()]);
      sub.unsubscribe();
      await handle.detach();
    }
    await balancer.stop();
    balancer = undefined;
    for (const node of started) await node.child.stop();
    const store = sqliteStore(db);
    let refs: string[];
    try {
      refs = (await readLedger(store, 'rest_ledger')).map((e) => e.ref);
    } finally {
      await store.close();
    }
    const keyedRecords = [...keyed.records];
    const unkeyedRecords = [...unkeyed.records];
    const verdict = checkLedger([...keyedRecords, ...unkeyedRecords], refs);
    const failed = (records: CallRecord[]): number => records.filter((r) => r.outcome === 'failed').length;
    const summary = JSON.stringify({
      scenario,
      acknowledged: verdict.acknowledged,
      failedKeyed: failed(keyedRecords),
      failedUnkeyed: failed(unkeyedRecords),
      failuresByKind: verdict.failuresByKind,
      failedButExecuted: verdict.failedButExecuted,
      lost: verdict.lost,
      duplicates: verdict.duplicates,
      misclassified: verdict.misclassified,
      failovers,
      examples: verdict.examples,
      keyedFailures: keyedRecords.filter((r) => r.outcome === 'failed').slice(0, 3).map((r) => `${r.errorKind} after ${r.attempts} attempts: ${r.message}`),
      messages: [...keyedRecords, ...unkeyedRecords].filter((r) => r.outcome === 'failed').slice(0, 3).map((r) => r.message),
      // When failures started and ended, in ms after the fault.
      failureTimes: [...keyedRecords, ...unkeyedRecords]
        .filter((r) => r.outcome === 'failed')
        .slice(0, 20)
        .map((r) => `${Math.round(r.startedAt - faultAt)}..${Math.round(r.endedAt - faultAt)}`),
    });
    return { verdict, keyed: keyedRecords, unkeyed: unkeyedRecords, failovers, summary };
  } finally {
    await balancer?.stop().catch(() => undefined);
    for (const node of started) await node.child.stop({ signal: 'SIGKILL' }).catch(() => undefined);
    agent.destroy();
    await rm(dir, { recursive: true, force: true });
  }
}

/** 0 lost, 0 duplicated, every "not executed" true, nothing unaccounted, no 4xx. */
export function expectTruthfulLedger(result: RestScenarioResult): void {
  const { verdict, summary } = result;
  expect(verdict.lost, summary).toBe(0);
  expect(verdict.duplicates, summary).toBe(0);
  expect(verdict.misclassified, summary).toBe(0);
  expect(verdict.unaccounted, summary).toBe(0);
  expect(verdict.acknowledged, summary).toBeGreaterThan(0);
  expect(verdict.failuresByKind.other ?? 0, summary).toBe(0);
}
