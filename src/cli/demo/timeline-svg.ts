import type { NodeHealthState, RunTimeline } from './timeline.js';
import { UNKNOWN_NODE } from './timeline.js';

/**
 * The failover timeline as one inline SVG (hand-written: a few step series and lanes need no
 * charting library, and the page must work offline): calls per second per node, what each node's
 * `/health` said (with its fencing epoch), the node the client saw, retries and failures, the
 * outage window shaded across all of it, and the fault and takeover as vertical lines.
 */

const WIDTH = 960;
const LEFT = 150;
const RIGHT = 24;
const TOP = 50;
const CHART_HEIGHT = 220;
const LANE_HEIGHT = 24;
const LANE_GAP = 6;
const AXIS_HEIGHT = 34;

const PALETTE = ['#2563eb', '#ea580c', '#7c3aed', '#0d9488', '#be185d'];
const STATE_FILL: Record<Exclude<NodeHealthState, 'active'>, string> = {
  standby: '#e5e7eb',
  draining: '#fcd34d',
  lost: '#fca5a5',
  down: '#9ca3af',
  exited: '#374151',
};

/** The colour of each node's series and lanes (`unknown` grey). */
export function nodeColours(nodes: readonly string[]): Record<string, string> {
  const colours: Record<string, string> = {};
  let i = 0;
  for (const node of nodes) colours[node] = node === UNKNOWN_NODE ? '#6b7280' : (PALETTE[i++ % PALETTE.length] ?? '#111827');
  return colours;
}

/** Escapes text for HTML/SVG content and attribute values. */
export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}

const f1 = (n: number): string => (Math.round(n * 10) / 10).toString();

/** 1, 2, 5 × 10^k step giving about `target` ticks up to `max`. */
function niceStep(max: number, target: number): number {
  const raw = max / Math.max(1, target);
  const power = 10 ** Math.floor(Math.log10(raw));
  for (const m of [1, 2, 5, 10]) if (m * power >= raw) return m * power;
  return 10 * power;
}

/** The longest of `texts` (longest first) that fits in a lane segment `width` px wide, if any. */
function laneLabel(width: number, texts: readonly string[], x0: number, dark: boolean): string {
  const text = texts.find((t) => t.length > 0 && width > t.length * 6.2 + 8);
  return text === undefined ? '' : `<text class="in-lane${dark ? ' on-dark' : ''}" x="${f1(x0 + 5)}" y="${LANE_HEIGHT / 2 + 4}">${escapeXml(text)}</text>`;
}

export function renderTimelineSvg(t: RunTimeline): string {
  const colours = nodeColours(t.nodes);
  const lanes: Array<{ label: string; body: string }> = [];
  const plotWidth = WIDTH - LEFT - RIGHT;
  const from = t.loadStartMs;
  const to = Math.max(t.endMs, from + 1);
  const x = (ms: number): number => LEFT + ((Math.min(Math.max(ms, from), to) - from) / (to - from)) * plotWidth;

  // Calls per second per node, as step lines over a light fill.
  const rates = t.buckets.map((b) => {
    const seconds = Math.max(1, b.endMs - b.startMs) / 1000;
    return Object.fromEntries(t.nodes.map((n) => [n, (b.okByNode[n] ?? 0) / seconds]));
  });
  const maxRate = Math.max(1, ...rates.flatMap((r) => Object.values(r)));
  const step = niceStep(maxRate, 4);
  const top = Math.ceil(maxRate / step) * step;
  const y = (rate: number): number => TOP + CHART_HEIGHT - (rate / top) * CHART_HEIGHT;
  const grid: string[] = [];
  for (let v = 0; v <= top + step / 2; v += step) {
    grid.push(`<line class="grid" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${f1(y(v))}" y2="${f1(y(v))}"/>`);
    grid.push(`<text class="tick" x="${LEFT - 8}" y="${f1(y(v) + 4)}" text-anchor="end">${Math.round(v)}</text>`);
  }
  const series = t.nodes.map((node) => {
    // Drawn from one bucket before the node's first call to one after its last, so that each
    // line visibly rises from and falls back to zero and the axis is not covered by idle nodes.
    const counts = t.buckets.map((b) => b.okByNode[node] ?? 0);
    const first = Math.max(0, counts.findIndex((c) => c > 0) - 1);
    const last = Math.min(counts.length - 1, counts.length - 1 - [...counts].reverse().findIndex((c) => c > 0) + 1);
    const shown = counts.some((c) => c > 0) ? t.buckets.slice(first, last + 1) : [];
    let line = '';
    shown.forEach((b, i) => {
      const yy = f1(y(rates[first + i]?.[node] ?? 0));
      line += `${i === 0 ? `M${f1(x(b.startMs))} ${yy}` : ` V${yy}`} H${f1(x(b.endMs))}`;
    });
    const total = counts.reduce((sum, c) => sum + c, 0);
    const area = shown.length === 0 ? '' : `${line} V${f1(y(0))} H${f1(x(shown[0]?.startMs ?? from))} Z`;
    const colour = colours[node] ?? '#111827';
    return `<g class="series" data-node="${escapeXml(node)}" data-calls="${total}"><title>${escapeXml(node)}: ${total} acknowledged calls</title><path class="area" d="${area}" fill="${colour}"/><path class="line" d="${line}" stroke="${colour}"/></g>`;
  });
  // One invisible column per bucket, so hovering shows the numbers.
  const columns = t.buckets.map((b) => {
    const parts = t.nodes.map((n) => `${n} ${b.okByNode[n] ?? 0}`).join(', ');
    const text = `${f1(b.startMs / 1000)}–${f1(b.endMs / 1000)} s: ${parts}; failed ${b.failed}; retries ${b.retries}`;
    return `<rect class="hover" x="${f1(x(b.startMs))}" y="${TOP}" width="${f1(Math.max(0.5, x(b.endMs) - x(b.startMs)))}" height="${CHART_HEIGHT}"><title>${escapeXml(text)}</title></rect>`;
  });

  // Lanes: each node's /health, the client's view, retries, failures.
  for (const node of t.nodes) {
    if (node === UNKNOWN_NODE) continue;
    const spans = t.nodeStates[node] ?? [];
    const body = spans
      .map((s) => {
        const x0 = x(s.fromMs);
        const w = Math.max(1, x(s.toMs) - x0);
        const active = s.state === 'active';
        const fill = active ? (colours[node] ?? '#111827') : STATE_FILL[s.state as Exclude<NodeHealthState, 'active'>];
        const text = active ? `active · epoch ${s.epoch ?? '?'}` : s.state === 'down' ? 'no answer' : s.state === 'exited' ? 'process gone' : s.state;
        const dark = active || s.state === 'down' || s.state === 'exited';
        const label = laneLabel(w, active ? [text, `epoch ${s.epoch ?? '?'}`, String(s.epoch ?? '')] : [text], x0, dark);
        return `<g class="state" data-state="${s.state}"${s.epoch === undefined ? '' : ` data-epoch="${s.epoch}"`}><rect x="${f1(x0)}" y="0" width="${f1(w)}" height="${LANE_HEIGHT}" fill="${fill}"><title>${escapeXml(`${node} ${text}: ${f1(s.fromMs / 1000)}–${f1(s.toMs / 1000)} s`)}</title></rect>${label}</g>`;
      })
      .join('');
    lanes.push({ label: `${node} /health`, body: `<g class="lane-node" data-node="${escapeXml(node)}">${body}</g>` });
  }
  const view = t.clientView
    .filter((s) => s.node !== undefined && s.toMs > from)
    .map((s) => {
      const x0 = x(s.fromMs);
      const w = Math.max(1, x(s.toMs) - x0);
      const text = `${s.node ?? ''} · epoch ${s.epoch ?? '?'}`;
      const label = laneLabel(w, [text, `epoch ${s.epoch ?? '?'}`], x0, true);
      return `<g class="view" data-node="${escapeXml(s.node ?? '')}"${s.epoch === undefined ? '' : ` data-epoch="${s.epoch}"`}><rect x="${f1(x0)}" y="0" width="${f1(w)}" height="${LANE_HEIGHT}" fill="${colours[s.node ?? ''] ?? '#6b7280'}" opacity="0.75"><title>${escapeXml(`the client got answers from ${text}`)}</title></rect>${label}</g>`;
    })
    .join('');
  lanes.push({ label: 'client answered by', body: `<g class="lane-client">${view}</g>` });
  const retryTicks = t.retries.map((ms) => `<line class="retry" x1="${f1(x(ms))}" x2="${f1(x(ms))}" y1="3" y2="${LANE_HEIGHT - 3}"/>`).join('');
  lanes.push({ label: `retries (${t.retries.length})`, body: `<g class="lane-retries"><title>${t.retries.length} transparent retries</title>${retryTicks}</g>` });
  const failureMarks = t.failures
    .map((fl) => {
      const cx = x(fl.atMs);
      const c = LANE_HEIGHT / 2;
      return `<path class="failure${fl.mayHaveExecuted ? ' maybe' : ''}" data-kind="${escapeXml(fl.kind)}" d="M${f1(cx - 4)} ${c - 4} L${f1(cx + 4)} ${c + 4} M${f1(cx - 4)} ${c + 4} L${f1(cx + 4)} ${c - 4}"><title>${escapeXml(`${fl.kind} at ${f1(fl.atMs / 1000)} s (${fl.mayHaveExecuted ? 'may have executed' : 'not executed'})`)}</title></path>`;
    })
    .join('');
  lanes.push({ label: `failures (${t.failures.length})`, body: `<g class="lane-failures">${failureMarks}</g>` });

  const lanesTop = TOP + CHART_HEIGHT + 16;
  const lanesSvg = lanes.map((lane, i) => {
    const yy = lanesTop + i * (LANE_HEIGHT + LANE_GAP);
    return `<g class="lane" transform="translate(0 ${yy})"><text class="lane-label" x="${LEFT - 8}" y="${LANE_HEIGHT / 2 + 4}" text-anchor="end">${escapeXml(lane.label)}</text><rect class="lane-bg" x="${LEFT}" y="0" width="${plotWidth}" height="${LANE_HEIGHT}"/>${lane.body}</g>`;
  });
  const lanesBottom = lanesTop + lanes.length * (LANE_HEIGHT + LANE_GAP) - LANE_GAP;
  const height = lanesBottom + AXIS_HEIGHT;

  // Seconds since the demo started, along the bottom.
  const ticks: string[] = [];
  const tickStep = niceStep((to - from) / 1000, 10);
  for (let s = Math.ceil(from / 1000 / tickStep) * tickStep; s * 1000 <= to; s += tickStep) {
    const xx = f1(x(s * 1000));
    ticks.push(`<line class="axis" x1="${xx}" x2="${xx}" y1="${lanesBottom + 2}" y2="${lanesBottom + 7}"/><text class="tick" x="${xx}" y="${lanesBottom + 20}" text-anchor="middle">${f1(s)} s</text>`);
  }

  const outage = t.outage
    ? `<g id="outage" data-start-ms="${Math.round(t.outage.startMs)}" data-end-ms="${Math.round(t.outage.endMs)}"><rect class="outage" x="${f1(x(t.outage.startMs))}" y="${TOP - 6}" width="${f1(Math.max(2, x(t.outage.endMs) - x(t.outage.startMs)))}" height="${f1(lanesBottom - TOP + 6)}"><title>no call succeeded for ${Math.round(t.outage.endMs - t.outage.startMs)} ms</title></rect><text class="outage-label" x="${f1((x(t.outage.startMs) + x(t.outage.endMs)) / 2)}" y="${TOP + 12}" text-anchor="middle">outage ${Math.round(t.outage.endMs - t.outage.startMs)} ms</text></g>`
    : '';
  const marks = t.marks
    .filter((m) => m.atMs >= from && m.atMs <= to)
    .map((m, i) => {
      const xx = f1(x(m.atMs));
      const right = x(m.atMs) < LEFT + plotWidth * 0.75;
      // Alternate two label rows: a fault and its takeover are often close together.
      const row = 16 + (i % 2) * 15;
      return `<g class="mark" data-kind="${m.kind}"><line x1="${xx}" x2="${xx}" y1="${row + 4}" y2="${lanesBottom}"/><text x="${f1(x(m.atMs) + (right ? 4 : -4))}" y="${row}" text-anchor="${right ? 'start' : 'end'}">${escapeXml(m.label)}</text></g>`;
    });

  return [
    `<svg id="timeline" role="img" aria-label="failover timeline" viewBox="0 0 ${WIDTH} ${height}" width="${WIDTH}" height="${height}" data-bucket-ms="${t.bucketMs}">`,
    `<text class="axis-title" x="14" y="${TOP + CHART_HEIGHT / 2}" transform="rotate(-90 14 ${TOP + CHART_HEIGHT / 2})" text-anchor="middle">calls / s</text>`,
    ...grid,
    outage,
    ...series,
    `<line class="axis" x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${f1(y(0))}" y2="${f1(y(0))}"/>`,
    ...columns,
    ...lanesSvg,
    ...ticks,
    ...marks,
    '</svg>',
  ].join('\n');
}
