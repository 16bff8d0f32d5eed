import type { CallRecord } from './call-log.js';

/**
 * What happened over time in one failover run, for the HTML report (`hotcold demo --report`):
 * calls per node per time bucket, what each node said about itself on `/health` (active with its
 * fencing epoch, standby, draining, no answer), the node the client saw answering, the outage
 * window, and when each retry and each failure happened. Every time is in milliseconds since the
 * run started (the clock of the demo's status lines).
 */

/**
 * What a node's `/health` said in one sampling round: `down` = no answer in time (frozen, or
 * too busy), `exited` = the process is gone (killed).
 */
export type NodeHealthState = 'active' | 'standby' | 'draining' | 'lost' | 'down' | 'exited';

export interface NodeStateSpan {
  fromMs: number;
  toMs: number;
  state: NodeHealthState;
  /** The fencing epoch the node reported (for `active`: the one it serves under). */
  epoch: number | undefined;
}

export interface ClientViewSpan {
  fromMs: number;
  toMs: number;
  /** The node the client last got an answer from (`X-Hotcold-Node`), undefined before the first. */
  node: string | undefined;
  epoch: number | undefined;
}

export interface TimelineBucket {
  startMs: number;
  /** `startMs + bucketMs`, except the last bucket, which runs to the end of the run. */
  endMs: number;
  /** Acknowledged calls that ended in this bucket, by the node that executed them. */
  okByNode: Record<string, number>;
  /** Calls that ended in this bucket with an error reported to the caller. */
  failed: number;
  /** Attempts the client retried on its own in this bucket. */
  retries: number;
}

export interface TimelineMark {
  atMs: number;
  kind: 'fault' | 'takeover' | 'note';
  label: string;
}

export interface TimelineFailure {
  atMs: number;
  kind: string;
  mayHaveExecuted: boolean;
}

export interface RunTimeline {
  /** When the callers started and stopped. */
  loadStartMs: number;
  endMs: number;
  bucketMs: number;
  /** The nodes, in start order; `okByNode` may also hold `unknown` (no epoch in the answer). */
  nodes: string[];
  buckets: TimelineBucket[];
  nodeStates: Record<string, NodeStateSpan[]>;
  clientView: ClientViewSpan[];
  /** The failover's client-observed outage (the summary's `outageMs`), if there was one. */
  outage: { startMs: number; endMs: number } | undefined;
  marks: TimelineMark[];
  retries: number[];
  failures: TimelineFailure[];
}

/** Node name for calls whose answer carried no epoch the health samples could place. */
export const UNKNOWN_NODE = 'unknown';

/** A bucket width that gives a readable number of bars: 250 ms up to 30 s, then wider. */
export function bucketWidthMs(durationMs: number): number {
  for (const width of [250, 500, 1000, 2000, 5000]) if (durationMs / width <= 120) return width;
  return 10_000;
}

export interface TimelineRecorder {
  /** The callers started (monotonic ms). */
  loadStarted(at: number): void;
  /** One `/health` sampling round: what each node answered (undefined: no answer). */
  healthRound(at: number, answers: ReadonlyArray<{ node: string; state: NodeHealthState; epoch: number | undefined }>): void;
  /** The client's view of the hot node changed (or may have: repeats are merged). */
  clientSaw(at: number, node: string | undefined, epoch: number | undefined): void;
  retry(at: number): void;
  mark(at: number, kind: TimelineMark['kind'], label: string): void;
  /** Assembles the timeline once the run is over. */
  finish(input: { records: readonly CallRecord[]; endedAt: number; outage: { start: number; end: number } | undefined }): RunTimeline;
}

/** Collects the run's time series; `origin` is the run's start (monotonic ms). */
export function createTimelineRecorder(origin: number): TimelineRecorder {
  let loadStart: number | undefined;
  const states = new Map<string, NodeStateSpan[]>();
  const epochOwner = new Map<number, string>();
  const clientView: ClientViewSpan[] = [];
  const retries: number[] = [];
  const marks: TimelineMark[] = [];
  const rel = (at: number): number => at - origin;

  return {
    loadStarted(at) {
      loadStart ??= rel(at);
    },
    healthRound(at, answers) {
      const t = rel(at);
      // A node restarted on its address appears twice (the dead process and the new one): the
      // one that answers speaks for the name.
      const byNode = new Map<string, (typeof answers)[number]>();
      for (const answer of answers) {
        const seen = byNode.get(answer.node);
        if (seen === undefined || seen.state === 'down' || seen.state === 'exited') byNode.set(answer.node, answer);
      }
      for (const answer of byNode.values()) {
        if (answer.state === 'active' && answer.epoch !== undefined) epochOwner.set(answer.epoch, answer.node);
        let spans = states.get(answer.node);
        if (!spans) {
          spans = [];
          states.set(answer.node, spans);
        }
        const last = spans[spans.length - 1];
        if (last && last.state === answer.state && (answer.state !== 'active' || last.epoch === answer.epoch)) {
          last.toMs = t;
          if (answer.epoch !== undefined) last.epoch = answer.epoch;
        } else {
          if (last) last.toMs = t;
          spans.push({ fromMs: t, toMs: t, state: answer.state, epoch: answer.epoch });
        }
      }
    },
    clientSaw(at, node, epoch) {
      const t = rel(at);
      const last = clientView[clientView.length - 1];
      if (last && last.node === node && last.epoch === epoch) return;
      if (last) last.toMs = t;
      clientView.push({ fromMs: t, toMs: t, node, epoch });
      if (node !== undefined && epoch !== undefined && !epochOwner.has(epoch)) epochOwner.set(epoch, node);
    },
    retry(at) {
      retries.push(rel(at));
    },
    mark(at, kind, label) {
      marks.push({ atMs: rel(at), kind, label });
    },
    finish({ records, endedAt, outage }) {
      const endMs = rel(endedAt);
      const loadStartMs = loadStart ?? Math.min(endMs, ...records.map((r) => rel(r.startedAt)));
      const bucketMs = bucketWidthMs(endMs - loadStartMs);
      // Whole buckets; the remainder joins the last one, so no sliver of a bucket shows a bogus rate.
      const count = Math.max(1, Math.floor((endMs - loadStartMs) / bucketMs));
      const nodes = [...states.keys()];
      const buckets: TimelineBucket[] = Array.from({ length: count }, (_, i) => ({
        startMs: loadStartMs + i * bucketMs,
        endMs: i === count - 1 ? Math.max(endMs, loadStartMs + (i + 1) * bucketMs) : loadStartMs + (i + 1) * bucketMs,
        okByNode: Object.fromEntries(nodes.map((n) => [n, 0])),
        failed: 0,
        retries: 0,
      }));
      const bucketOf = (t: number): TimelineBucket | undefined => buckets[Math.min(count - 1, Math.max(0, Math.floor((t - loadStartMs) / bucketMs)))];
      const failures: TimelineFailure[] = [];
      for (const record of records) {
        const t = rel(record.endedAt);
        const bucket = bucketOf(t);
        if (!bucket) continue;
        if (record.outcome === 'ok') {
          const node = (record.epoch === undefined ? undefined : epochOwner.get(record.epoch)) ?? UNKNOWN_NODE;
          bucket.okByNode[node] = (bucket.okByNode[node] ?? 0) + 1;
        } else {
          bucket.failed += 1;
          failures.push({ atMs: t, kind: record.errorKind ?? 'other', mayHaveExecuted: record.mayHaveExecuted !== false });
        }
      }
      for (const t of retries) {
        const bucket = bucketOf(t);
        if (bucket) bucket.retries += 1;
      }
      if (buckets.some((b) => (b.okByNode[UNKNOWN_NODE] ?? 0) > 0)) nodes.push(UNKNOWN_NODE);
      for (const spans of states.values()) {
        const last = spans[spans.length - 1];
        if (last) last.toMs = Math.max(last.toMs, endMs);
      }
      const lastView = clientView[clientView.length - 1];
      if (lastView) lastView.toMs = Math.max(lastView.toMs, endMs);
      return {
        loadStartMs,
        endMs,
        bucketMs,
        nodes,
        buckets,
        nodeStates: Object.fromEntries(states),
        clientView,
        outage: outage && outage.end > outage.start ? { startMs: rel(outage.start), endMs: rel(outage.end) } : undefined,
        marks,
        retries: [...retries],
        failures,
      };
    },
  };
}
