/**
 * End to end through real HAProxy: two `hotcold node` processes (the CLI, warm mode) on a fresh
 * PostgreSQL database, HAProxy from the shipped config, 32 concurrent callers doing keyed
 * non-idempotent transfers with createClient. After each fault the ledger must show every
 * acknowledged call exactly once, nothing twice, and no "not executed" failure that executed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createPostgresDatabase } from '../../src/cli/demo/database.js';
import { findHaproxy } from '../../src/cli/demo/haproxy.js';
import { runScenario, type Scenario, type ScenarioResult } from '../../src/cli/demo/scenario.js';
import { databaseAvailable, PG_URL } from '../support/services.js';

const binary = findHaproxy();
if (!binary && process.env.CI === 'true') throw new Error('haproxy is required in CI (CI=true) but is not installed');
if (!binary) process.stderr.write('\n\n*** haproxy is NOT installed: the HAProxy end-to-end suite is SKIPPED ***\n\n');
const postgres = await databaseAvailable('postgres');

const CALLERS = 32;

/** Handles by type (sockets, servers, child processes, timers) this process holds now. */
function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}
/** Taken at the start of each run (the test's own timeout timer is then in both counts). */
let baseline = handleCounts();

/** The run left nothing behind in this process: no socket, server, child or timer beyond the baseline. */
async function expectNoLeftoverHandles(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve));
  const now = handleCounts();
  const extra = [...now].filter(([type, n]) => type !== 'TTYWrap' && n > (baseline.get(type) ?? 0));
  expect(extra, JSON.stringify(process.getActiveResourcesInfo())).toEqual([]);
}

async function run(scenario: Scenario): Promise<ScenarioResult> {
  baseline = handleCounts();
  const db = await createPostgresDatabase(PG_URL);
  const lines: string[] = [];
  try {
    return await runScenario({
      scenario,
      db,
      lb: 'haproxy',
      callers: CALLERS,
      updateIntervalMs: 200,
      waitIntervalMs: 1000,
      checkIntervalMs: 100,
      warmupMs: 1000,
      afterMs: 1000,
      onLog: (m) => lines.push(m),
      onNodeLine: (machine, line) => lines.push(`${machine}: ${line}`),
    });
  } catch (error) {
    process.stderr.write(`${scenario} failed; log:\n${lines.slice(-80).join('\n')}\n`);
    throw error;
  } finally {
    await db.dispose();
  }
}

async function expectTruthfulLedger(result: ScenarioResult): Promise<void> {
  const { verdict } = result;
  const detail = JSON.stringify({ ...result.summary, examples: verdict.examples });
  expect(verdict.lost, detail).toBe(0);
  expect(verdict.duplicates, detail).toBe(0);
  expect(verdict.misclassified, detail).toBe(0);
  expect(verdict.unaccounted, detail).toBe(0);
  expect(verdict.acknowledged, detail).toBeGreaterThan(0);
  // Never two nodes answering 200 on /health at the same time.
  expect(result.bothActiveSamples, detail).toBe(0);
  // Every process the run started is gone.
  for (const pid of result.pids) expect(() => process.kill(pid, 0)).toThrow();
  await expectNoLeftoverHandles();
}

describe.runIf(binary && postgres)('failover through HAProxy on PostgreSQL (32 callers, keyed transfers)', () => {
  const summaries: string[] = [];
  afterAll(() => {
    if (summaries.length > 0) process.stderr.write(`\n${summaries.join('\n')}\n`);
  });

  it('hot node SIGKILLed: the standby takes over; nothing lost, nothing twice, failures truthful', async () => {
    const result = await run('crash');
    summaries.push(`crash: ${JSON.stringify(result.summary)}`);
    await expectTruthfulLedger(result);
    expect(result.summary.to.node).not.toBe(result.summary.from.node);
    expect(result.summary.failovers).toBeGreaterThanOrEqual(1);
    // waitInterval 1000 + check 100 + client: generous for a loaded 2-core box.
    expect(result.summary.outageMs).toBeLessThan(5000);
  }, 45_000);

  it('hot node SIGSTOPped, then resumed after the takeover: it fences itself and serves nothing', async () => {
    const result = await run('freeze');
    summaries.push(`freeze: ${JSON.stringify(result.summary)}`);
    await expectTruthfulLedger(result);
    expect(result.frozenNodeFenced, result.frozenNodeDetail).toBe(true);
    expect(result.summary.to.node).not.toBe(result.summary.from.node);
  }, 45_000);

  it('planned drain (SIGTERM): zero failed calls', async () => {
    const result = await run('planned');
    summaries.push(`planned: ${JSON.stringify(result.summary)}`);
    await expectTruthfulLedger(result);
    expect(result.summary.failedCalls, JSON.stringify(result.summary.failuresByKind)).toBe(0);
    expect(result.summary.to.node).not.toBe(result.summary.from.node);
  }, 45_000);

  it('both nodes started at once: exactly one serves, and the ledger is exact', async () => {
    const result = await run('start-together');
    summaries.push(`start-together: ${JSON.stringify(result.summary)}`);
    await expectTruthfulLedger(result);
    expect(result.bothActiveSamples).toBe(0);
    expect(result.healthSamples).toBeGreaterThan(10);
  }, 45_000);
});
