/**
 * The report's data and page, from a run's records (pure: no processes). Calls are attributed
 * to the node that executed them by the epoch in their answer, buckets cover the run exactly,
 * a node restarted on its name is one lane, and nothing from a run can break out of the page.
 */
import { describe, expect, it } from 'vitest';
import type { CallRecord } from '../../src/cli/demo/call-log.js';
import { renderFailoverReport } from '../../src/cli/demo/html-report.js';
import type { RunSummary } from '../../src/cli/demo/report.js';
import { createTimelineRecorder, UNKNOWN_NODE } from '../../src/cli/demo/timeline.js';

const T0 = 10_000; // monotonic ms of the run's start

function ok(endMs: number, epoch: number | undefined): CallRecord {
  return { key: `k${endMs}`, method: 'transfer', startedAt: T0 + endMs - 5, endedAt: T0 + endMs, outcome: 'ok', epoch };
}

const summary: RunSummary = {
  scenario: 'crash', db: 'sqlite', lb: 'dev', callers: 2, calls: 6, acknowledged: 5, failedCalls: 1, retried: 2, lost: 0, duplicates: 0, misclassified: 0, unaccounted: 0,
  outageMs: 400, longestGapMs: 400, takeoverMs: 300, failovers: 1, slowestCallMs: 450, slowestFailoverCallMs: 450,
  from: { node: 'node-a', epoch: 1 }, to: { node: 'node-b', epoch: 2 }, takeover: { node: 'node-b', epoch: 2 }, failuresByKind: { 'unknown-outcome': 1 }, durationMs: 2000, ok: true,
};

function sampleRun(): ReturnType<ReturnType<typeof createTimelineRecorder>['finish']> {
  const rec = createTimelineRecorder(T0);
  rec.healthRound(T0 + 100, [{ node: 'node-a', state: 'active', epoch: 1 }, { node: 'node-b', state: 'standby', epoch: undefined }]);
  rec.loadStarted(T0 + 1000);
  rec.clientSaw(T0 + 1010, 'node-a', 1);
  rec.healthRound(T0 + 1200, [{ node: 'node-a', state: 'active', epoch: 1 }, { node: 'node-b', state: 'standby', epoch: undefined }]);
  rec.mark(T0 + 1300, 'fault', 'SIGKILL node-a');
  // The killed process and its restart share the name: the one that answers speaks for it.
  rec.healthRound(T0 + 1400, [{ node: 'node-a', state: 'exited', epoch: undefined }, { node: 'node-b', state: 'standby', epoch: undefined }, { node: 'node-a', state: 'standby', epoch: undefined }]);
  rec.retry(T0 + 1450);
  rec.retry(T0 + 1490);
  rec.healthRound(T0 + 1600, [{ node: 'node-a', state: 'exited', epoch: undefined }, { node: 'node-b', state: 'active', epoch: 2 }]);
  rec.mark(T0 + 1600, 'takeover', 'node-b active (epoch 2)');
  rec.clientSaw(T0 + 1700, 'node-b', 2);
  rec.clientSaw(T0 + 1750, 'node-b', 2); // a repeat is merged
  const records: CallRecord[] = [
    ok(1100, 1), ok(1200, 1), ok(1290, 1),
    { key: 'f', method: 'transfer', startedAt: T0 + 1280, endedAt: T0 + 1600, outcome: 'failed', errorKind: 'unknown-outcome', mayHaveExecuted: true },
    ok(1700, 2), ok(1990, 2), ok(1995, undefined),
  ];
  return rec.finish({ records, endedAt: T0 + 2000, outage: { start: T0 + 1290, end: T0 + 1690 } });
}

describe('the failover report', () => {
  it('buckets calls by the node whose epoch executed them, over the whole load', () => {
    const t = sampleRun();
    expect(t.loadStartMs).toBe(1000);
    expect(t.endMs).toBe(2000);
    expect(t.bucketMs).toBe(250);
    expect(t.buckets.map((b) => [b.startMs, b.endMs])).toEqual([[1000, 1250], [1250, 1500], [1500, 1750], [1750, 2000]]);
    expect(t.buckets.map((b) => b.okByNode['node-a'])).toEqual([2, 1, 0, 0]);
    expect(t.buckets.map((b) => b.okByNode['node-b'])).toEqual([0, 0, 1, 1]);
    expect(t.buckets.map((b) => b.okByNode[UNKNOWN_NODE] ?? 0)).toEqual([0, 0, 0, 1]);
    expect(t.nodes).toEqual(['node-a', 'node-b', UNKNOWN_NODE]);
    expect(t.buckets.map((b) => b.failed)).toEqual([0, 0, 1, 0]);
    expect(t.buckets.map((b) => b.retries)).toEqual([0, 2, 0, 0]);
    expect(t.failures).toEqual([{ atMs: 1600, kind: 'unknown-outcome', mayHaveExecuted: true }]);
    expect(t.outage).toEqual({ startMs: 1290, endMs: 1690 });
  });

  it('keeps each node as one lane of states with epochs, and the client view without repeats', () => {
    const t = sampleRun();
    expect(t.nodeStates['node-a']?.map((s) => [s.state, s.epoch, s.fromMs])).toEqual([['active', 1, 100], ['standby', undefined, 1400], ['exited', undefined, 1600]]);
    expect(t.nodeStates['node-b']?.map((s) => [s.state, s.epoch])).toEqual([['standby', undefined], ['active', 2]]);
    expect(t.nodeStates['node-b']?.at(-1)?.toMs).toBe(2000);
    expect(t.clientView.map((v) => [v.node, v.epoch, v.fromMs, v.toMs])).toEqual([['node-a', 1, 1010, 1700], ['node-b', 2, 1700, 2000]]);
  });

  it('renders one self-contained page: a series per node, lanes, marks, the summary rows', () => {
    const html = renderFailoverReport({ summary, timeline: sampleRun(), date: new Date(0) });
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
    expect(html).not.toMatch(/\b(src|href)=|https?:\/\//);
    expect(html.match(/<g class="series"/g)).toHaveLength(3);
    expect(html).toContain('<g class="series" data-node="node-a" data-calls="3">');
    expect(html).toContain('<g id="outage" data-start-ms="1290" data-end-ms="1690">');
    expect(html.match(/<line class="retry"/g)).toHaveLength(2);
    expect(html.match(/<path class="failure maybe" data-kind="unknown-outcome"/g)).toHaveLength(1);
    expect(html).toContain('<tr data-key="calls"><th scope="row">calls made</th><td>6</td></tr>');
    expect(html).toContain('<td>1 (unknown-outcome 1)</td>');
  });

  it('escapes whatever a run names, and the embedded JSON cannot close its script block', () => {
    const rec = createTimelineRecorder(T0);
    const evil = '</script><img src=x onerror=alert(1)>';
    rec.healthRound(T0 + 1, [{ node: evil, state: 'active', epoch: 7 }]);
    rec.loadStarted(T0 + 2);
    rec.mark(T0 + 3, 'note', evil);
    const timeline = rec.finish({ records: [ok(10, 7)], endedAt: T0 + 500, outage: undefined });
    const html = renderFailoverReport({ summary: { ...summary, from: { node: evil, epoch: 7 } }, timeline });
    expect(html).not.toContain('<img');
    expect(html).not.toContain(evil);
    expect(html.match(/<\/script>/g)).toHaveLength(1);
    const json = /<script type="application\/json" id="hotcold-run">(.*)<\/script>/s.exec(html)?.[1] ?? '';
    expect((JSON.parse(json) as { summary: RunSummary }).summary.from.node).toBe(evil);
  });
});
