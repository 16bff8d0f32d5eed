/**
 * REST failover end to end through the dev balancer (src/testing/dev-balancer.ts): crash and
 * planned handover under load, keyed and unkeyed POSTs, ledger checked (issue 9 §2).
 */
import { describe, expect, it } from 'vitest';
import { startDevBalancer } from '../../src/testing/index.js';
import { expectTruthfulLedger, runRestScenario, SCENARIO_TIMEOUT_MS, type StartBalancer } from './rest-failover-suite.js';

const dev: StartBalancer = async (a, b) => {
  const lb = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 100 });
  return { url: lb.url, stop: () => lb.close() };
};

describe('REST over attachPolicy through the dev balancer (two REST ledger nodes, SQLite lease)', () => {
  it('hot node SIGKILLed under load: nothing lost, nothing twice, every "not executed" true', async () => {
    const result = await runRestScenario('crash', dev);
    process.stderr.write(`dev crash: ${result.summary}\n`);
    expectTruthfulLedger(result);
    expect(result.failovers, result.summary).toBeGreaterThanOrEqual(1);
  }, SCENARIO_TIMEOUT_MS);

  it('planned drain (SIGTERM) under load: zero failed requests, keyed or not', async () => {
    const result = await runRestScenario('planned', dev);
    process.stderr.write(`dev planned: ${result.summary}\n`);
    expectTruthfulLedger(result);
    expect(result.verdict.failedCalls, result.summary).toBe(0);
  }, SCENARIO_TIMEOUT_MS);
});
