/**
 * The end-to-end failover suite every real balancer runs (HAProxy, nginx): two `hotcold node`
 * processes (the CLI, warm mode) on a fresh PostgreSQL database, the balancer from its shipped
 * config, 32 concurrent callers doing keyed non-idempotent transfers with createClient. After
 * each fault the ledger must show every acknowledged call exactly once, nothing twice, and no
 * "not executed" failure that executed.
 */
import { afterAll, describe, expect, it } from 'vitest';
import type { BalancerKind } from '../../src/cli/demo/balancer.js';
import { createPostgresDatabase } from '../../src/cli/demo/database.js';
import { runScenario, type Scenario, type ScenarioResult } from '../../src/cli/demo/scenario.js';
import { PG_URL } from '../support/services.js';

const CALLERS = 32;

/**
 * Whether the balancer's binary was found; with CI=true a missing one fails the suite at
 * collection, otherwise the skip is announced loudly.
 */
export function balancerBinaryAvailable(name: string, binary: string | undefined): boolean {
  if (!binary && process.env.CI === 'true') throw new Error(`${name} is required in CI (CI=true) but is not installed`);
  if (!binary) process.stderr.write(`\n\n*** ${name} is NOT installed: the ${name} end-to-end suites are SKIPPED ***\n\n`);
  return binary !== undefined;
}

/** Handles by type (sockets, servers, child processes, timers) this process holds now. */
function handleCounts(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1);
  return counts;
}

export interface FailoverRunOptions {
  /** Load after the standby has taken over (default 1000 ms). */
  afterMs?: number;
  /** A balancer config template instead of the shipped one. */
  balancerTemplate?: string;
}

/** Runs one scenario through `lb` on a fresh PostgreSQL database; prints the run's log if it throws. */
export async function runFailover(lb: BalancerKind, scenario: Scenario, options: FailoverRunOptions = {}): Promise<ScenarioResult> {
  const db = await createPostgresDatabase(PG_URL);
  const lines: string[] = [];
  try {
    return await runScenario({
      scenario,
      db,
      lb,
      ...(options.balancerTemplate !== undefined ? { balancerTemplate: options.balancerTemplate } : {}),
      callers: CALLERS,
      updateIntervalMs: 200,
      waitIntervalMs: 1000,
      checkIntervalMs: 100,
      warmupMs: 1000,
      afterMs: options.afterMs ?? 1000,
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

/**
 * The ledger is exact, no split brain, and the run left nothing behind: no process it started,
 * and no socket, server, child or timer in this process beyond `baseline`.
 */
export async function expectTruthfulLedger(result: ScenarioResult, baseline: Map<string, number>): Promise<void> {
  const { verdict } = result;
  const detail = JSON.stringify({ ...result.summary, examples: verdict.examples });
  expect(verdict.lost, detail).toBe(0);
  expect(verdict.duplicates, detail).toBe(0);
  expect(verdict.misclassified, detail).toBe(0);
  expect(verdict.unaccounted, detail).toBe(0);
  expect(verdict.acknowledged, detail).toBeGreaterThan(0);
  // Never two nodes answering 200 on /health at the same time.
  expect(result.bothActiveSamples, detail).toBe(0);
  for (const pid of result.pids) expect(() => process.kill(pid, 0)).toThrow();
  await new Promise((resolve) => setImmediate(resolve));
  const now = handleCounts();
  const extra = [...now].filter(([type, n]) => type !== 'TTYWrap' && n > (baseline.get(type) ?? 0));
  expect(extra, JSON.stringify(process.getActiveResourcesInfo())).toEqual([]);
}

/**
 * The fault moved service to the other node: the client's first failover after the fault went
 * there. Not `summary.to` (where service was at the end): under load a holder can lose its lease
 * later and the fenced node, back as the standby, take it over again (seen in a double run: the
 * freeze scenario ended on the frozen node at epoch 3 after two failovers, ledger exact).
 */
export function expectTakeoverByStandby(result: ScenarioResult): void {
  const { summary } = result;
  expect(summary.takeover, JSON.stringify(summary)).toBeDefined();
  expect(summary.takeover?.node, JSON.stringify(summary)).not.toBe(summary.from.node);
}

/** Calls started after the killed node was back as the standby: all must have succeeded. */
export function callsAfterRejoin(result: ScenarioResult): { ok: number; failed: number; examples: string[] } {
  const after = result.rejoinedAt === undefined ? [] : result.records.filter((r) => r.startedAt >= (result.rejoinedAt ?? 0));
  const failed = after.filter((r) => r.outcome !== 'ok');
  return { ok: after.length - failed.length, failed: failed.length, examples: failed.slice(0, 3).map((r) => `${r.errorKind}: ${r.message}`) };
}

export interface FailoverSuiteOptions {
  lb: BalancerKind;
  /** For the suite's title: "HAProxy", "nginx". */
  title: string;
  available: boolean;
  /** Also run "the killed node comes back as standby" (with this much load after it). */
  rejoin?: { afterMs: number };
}

/** Declares the suite: crash, freeze, planned drain, both starting at once (and rejoin). */
export function describeFailoverSuite(options: FailoverSuiteOptions): void {
  const { lb } = options;
  describe.runIf(options.available)(`failover through ${options.title} on PostgreSQL (${CALLERS} callers, keyed transfers)`, () => {
    const summaries: string[] = [];
    afterAll(() => {
      if (summaries.length > 0) process.stderr.write(`\n${summaries.join('\n')}\n`);
    });
    /** Runs and checks the ledger; the handle baseline is taken before the run. */
    const runChecked = async (scenario: Scenario, runOptions: FailoverRunOptions = {}): Promise<ScenarioResult> => {
      const baseline = handleCounts();
      const result = await runFailover(lb, scenario, runOptions);
      summaries.push(`${lb} ${scenario}: ${JSON.stringify(result.summary)}`);
      await expectTruthfulLedger(result, baseline);
      return result;
    };

    // Two `hotcold node` processes through tsx (seconds each under load), a database, a balancer, 32 callers: 90 s, not 45 s.
    it('hot node SIGKILLed: the standby takes over; nothing lost, nothing twice, failures truthful', async () => {
      const result = await runChecked('crash');
      expectTakeoverByStandby(result);
      expect(result.summary.failovers).toBeGreaterThanOrEqual(1);
      // How long the outage lasted (waitInterval 1000 + check 100 + client on a quiet machine) is
      // a speed claim: bench/failover.ts's crash row (target <= 1400 ms).
    }, 90_000);

    it('hot node SIGSTOPped, then resumed after the takeover: it fences itself and serves nothing', async () => {
      const result = await runChecked('freeze');
      expect(result.frozenNodeFenced, result.frozenNodeDetail).toBe(true);
      expectTakeoverByStandby(result);
    }, 90_000);

    it('planned drain (SIGTERM): zero failed calls', async () => {
      const result = await runChecked('planned');
      expect(result.summary.failedCalls, JSON.stringify(result.summary.failuresByKind)).toBe(0);
      expectTakeoverByStandby(result);
    }, 90_000);

    it('both nodes started at once: exactly one serves, and the ledger is exact', async () => {
      const result = await runChecked('start-together');
      expect(result.bothActiveSamples).toBe(0);
      expect(result.healthSamples).toBeGreaterThan(10);
    }, 90_000);

    const { rejoin } = options;
    if (rejoin === undefined) return;
    // A third node process through tsx (the restart, allowed 30 s to start under load) on top of the two.
    it('the killed node comes back as the standby: calls keep succeeding on the hot node', async () => {
      const result = await runChecked('rejoin', { afterMs: rejoin.afterMs });
      expect(result.rejoinedAt).toBeDefined();
      expectTakeoverByStandby(result);
      const after = callsAfterRejoin(result);
      expect(after.failed, JSON.stringify(after)).toBe(0);
      expect(after.ok, JSON.stringify(after)).toBeGreaterThan(0);
    }, 150_000);
  });
}
