/**
 * The demo's fault comes after the client's first answer, not after a fixed warm-up only: a
 * failover is reported from a node the client has heard from. With no warm-up at all the first
 * answers are still in flight when the hot node would be killed; the client's first contact
 * would then be the standby, and the run would report no failover. (On a starved machine this is
 * what a 1 s warm-up became: run 2 of 2026-11-30 evening, HAProxy crash, `failovers: 0`.)
 */
import { describe, expect, it } from 'vitest';
import { createSqliteDatabase } from '../../src/cli/demo/database.js';
import { runScenario } from '../../src/cli/demo/scenario.js';

describe('demo scenario on SQLite and the dev balancer', () => {
  it('with no warm-up, the crash still comes after the first answer: one failover, nothing lost or twice', async () => {
    const db = await createSqliteDatabase();
    try {
      const result = await runScenario({
        scenario: 'crash',
        db,
        lb: 'dev',
        callers: 8,
        updateIntervalMs: 200,
        waitIntervalMs: 1000,
        checkIntervalMs: 100,
        warmupMs: 0,
        afterMs: 500,
      });
      expect(result.summary.takeover?.node, JSON.stringify(result.summary)).not.toBe(result.summary.from.node);
      expect(result.summary.takeover).toBeDefined();
      expect(result.summary.failovers).toBeGreaterThanOrEqual(1);
      expect(result.summary.lost).toBe(0);
      expect(result.summary.duplicates).toBe(0);
      expect(result.summary.misclassified).toBe(0);
    } finally {
      await db.dispose();
    }
  }, 60_000);
});
