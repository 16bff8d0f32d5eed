/**
 * REST failover end to end through real HAProxy from the shipped config
 * (examples/haproxy/haproxy.cfg): two REST ledger nodes as child processes, crash (SIGKILL) and
 * planned drain (SIGTERM) under load, keyed and unkeyed POSTs, ledger checked (issue 9 §2).
 */
import { describe, expect, it } from 'vitest';
import { findHaproxy, startHaproxy } from '../../src/cli/demo/haproxy.js';
import { balancerBinaryAvailable } from './failover-suite.js';
import { expectTruthfulLedger, runRestScenario, SCENARIO_TIMEOUT_MS, type StartBalancer } from './rest-failover-suite.js';

const binary = balancerBinaryAvailable('haproxy', findHaproxy());

const haproxy: StartBalancer = async (a, b) => {
  const lb = await startHaproxy({ backends: [{ name: 'node-a', port: a.port }, { name: 'node-b', port: b.port }] });
  return { url: lb.url, stop: () => lb.stop() };
};

describe.runIf(binary)('REST over attachPolicy through HAProxy (shipped config, two REST ledger nodes)', () => {
  it('hot node SIGKILLed under load: nothing lost, nothing twice, every "not executed" true', async () => {
    const result = await runRestScenario('crash', haproxy);
    process.stderr.write(`haproxy crash: ${result.summary}\n`);
    expectTruthfulLedger(result);
    expect(result.failovers, result.summary).toBeGreaterThanOrEqual(1);
  }, SCENARIO_TIMEOUT_MS);

  it('planned drain (SIGTERM) under load: zero failed keyed requests; unkeyed ones cut by shutdown-sessions fail as "maybe"', async () => {
    const result = await runRestScenario('planned', haproxy);
    process.stderr.write(`haproxy planned: ${result.summary}\n`);
    expectTruthfulLedger(result);
    // Keyed POSTs are repeated under the node's deduplication: a drain is invisible to them.
    expect(result.keyed.filter((r) => r.outcome === 'failed'), result.summary).toEqual([]);
    // `on-marked-down shutdown-sessions` (shipped config) cuts the sessions still open to the
    // drained node when its health turns 503, answering 502 for requests that may have run: an
    // unkeyed POST among them can only be told "maybe" — and must be.
    for (const r of result.unkeyed.filter((c) => c.outcome === 'failed')) expect(r.mayHaveExecuted, result.summary).toBe(true);
  }, SCENARIO_TIMEOUT_MS);
});
