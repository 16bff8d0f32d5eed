import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/cli/demo/call-log.js';
import { checkLedger } from '../../src/cli/demo/ledger-check.js';
import { longestOkGap, startLoad } from '../../src/cli/demo/load.js';
import { formatStatusLine, formatSummaryTable, fromTo, summaryFromVerdict } from '../../src/cli/demo/report.js';
import { ConnectionFailureException, UnknownOutcomeException } from '../../src/errors.js';

/** A call as it really went: how often it ran, and what the client was told. */
interface Truth {
  ran: 0 | 1 | 2;
  outcome: 'ok' | 'failed';
  claim: boolean;
}

const truthArb = fc.record({
  ran: fc.constantFrom<0 | 1 | 2>(0, 1, 2),
  outcome: fc.constantFrom<'ok' | 'failed'>('ok', 'failed'),
  claim: fc.boolean(),
});

function materialize(truths: readonly Truth[]): { calls: CallRecord[]; ledger: string[] } {
  const calls: CallRecord[] = [];
  const ledger: string[] = [];
  truths.forEach((t, i) => {
    const key = `k${i}`;
    calls.push({
      key,
      method: 'transfer',
      startedAt: i,
      endedAt: i + 1,
      outcome: t.outcome,
      ...(t.outcome === 'failed' ? { errorKind: 'unknown-outcome' as const, mayHaveExecuted: t.claim } : {}),
    });
    for (let n = 0; n < t.ran; n++) ledger.push(key);
  });
  return { calls, ledger };
}

describe('checkLedger', () => {
  it('counts exactly the lost, duplicated and misclassified calls, for every history', () => {
    fc.assert(
      fc.property(fc.array(truthArb, { maxLength: 60 }), fc.array(fc.nat(5), { maxLength: 3 }), (truths, phantoms) => {
        const { calls, ledger } = materialize(truths);
        const unaccountedKeys = [...new Set(phantoms.map((p) => `phantom${p}`))];
        const verdict = checkLedger(calls, [...ledger, ...unaccountedKeys]);
        const lost = truths.filter((t) => t.outcome === 'ok' && t.ran === 0).length;
        const dup = truths.filter((t) => t.ran === 2).length;
        const lied = truths.filter((t) => t.outcome === 'failed' && t.ran > 0 && !t.claim).length;
        expect(verdict.lost).toBe(lost);
        expect(verdict.duplicates).toBe(dup);
        expect(verdict.misclassified).toBe(lied);
        expect(verdict.unaccounted).toBe(unaccountedKeys.length);
        expect(verdict.acknowledged + verdict.failedCalls).toBe(truths.length);
        expect(verdict.ok).toBe(lost + dup + lied + unaccountedKeys.length === 0);
      }),
    );
  });

  it('accepts a count map as the ledger, and rejects a log that reuses a key', () => {
    const calls: CallRecord[] = [{ key: 'a', method: 'm', startedAt: 0, endedAt: 1, outcome: 'ok' }];
    expect(checkLedger(calls, new Map([['a', 1]])).ok).toBe(true);
    expect(checkLedger(calls, new Map([['a', 2]])).duplicates).toBe(1);
    expect(() => checkLedger([...calls, ...calls], [])).toThrow(/twice/);
  });
});

describe('load generator', () => {
  it('runs N callers with unique keys and logs each failure with its classification', async () => {
    let n = 0;
    const run = startLoad({
      callers: 4,
      method: 'transfer',
      params: (caller, seq) => ({ caller, seq }),
      call: async () => {
        // Numbered before the await: callers run concurrently, so n moves on while this one sleeps.
        const k = ++n;
        await new Promise((resolve) => setTimeout(resolve, 1));
        if (k % 7 === 0) throw new ConnectionFailureException('refused');
        if (k % 11 === 0) throw new UnknownOutcomeException('reset');
        return 'ok';
      },
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const records = await run.stop();
    expect(records.length).toBeGreaterThan(20);
    expect(new Set(records.map((r) => r.key)).size).toBe(records.length);
    const failed = records.filter((r) => r.outcome === 'failed');
    expect(failed.some((r) => r.errorKind === 'connection-failure' && r.mayHaveExecuted === false)).toBe(true);
    expect(failed.some((r) => r.errorKind === 'unknown-outcome' && r.mayHaveExecuted === true)).toBe(true);
    expect(run.stats().inFlight).toBe(0);
  });

  it('measures the outage as the longest gap between successful completions', () => {
    const ok = (endedAt: number): CallRecord => ({ key: `k${endedAt}`, method: 'm', startedAt: endedAt - 1, endedAt, outcome: 'ok' });
    const records = [ok(10), ok(20), ok(30), ok(900), ok(910)];
    expect(longestOkGap(records, 25, 1000)).toEqual({ gapMs: 870, start: 30, end: 900 });
    expect(longestOkGap(records, 0, 25).gapMs).toBe(10);
  });
});

describe('report formatting', () => {
  it('renders a status line and a summary table', () => {
    const line = formatStatusLine({ elapsedMs: 1500, phase: 'failover', node: 'node-b', epoch: 3, ok: 10, retried: 2, failed: 0, outageMs: 700 });
    expect(line).toContain('hot node-b (epoch 3)');
    expect(line).toContain('outage 0.7 s');
    const verdict = checkLedger([{ key: 'a', method: 'm', startedAt: 0, endedAt: 1, outcome: 'ok' }], ['a']);
    const table = formatSummaryTable(
      summaryFromVerdict(verdict, {
        scenario: 'crash',
        db: 'sqlite',
        lb: 'dev',
        callers: 1,
        retried: 0,
        outageMs: 900,
        longestGapMs: 900,
        takeoverMs: 950,
        failovers: 1,
        slowestCallMs: 1000,
        slowestFailoverCallMs: 1000,
        from: { node: 'node-a', epoch: 1 },
        to: { node: 'node-b', epoch: 2 },
        takeover: { node: 'node-b', epoch: 2 },
        durationMs: 10,
      }),
    );
    const widths = new Set(table.split('\n').map((l) => l.length));
    expect(widths.size).toBe(1);
    expect(table).toContain('OK: nothing lost');
  });

  it('the hot node before and after names the takeover first when service moved again later', () => {
    const from = { node: 'node-a', epoch: 1 };
    const b2 = { node: 'node-b', epoch: 2 };
    expect(fromTo({ from, to: b2, takeover: b2 })).toBe('node-a (epoch 1) -> node-b (epoch 2)');
    expect(fromTo({ from, to: b2, takeover: undefined })).toBe('node-a (epoch 1) -> node-b (epoch 2)');
    expect(fromTo({ from, to: { node: 'node-a', epoch: 3 }, takeover: b2 })).toBe('node-a (epoch 1) -> node-b (epoch 2), later node-a (epoch 3)');
  });
});
