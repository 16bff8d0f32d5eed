import { summaryRows, type RunSummary } from './report.js';
import type { RunTimeline } from './timeline.js';
import { escapeXml, nodeColours, renderTimelineSvg } from './timeline-svg.js';

/**
 * `hotcold demo --report FILE`: one self-contained HTML page (inline CSS and SVG, no script, no
 * font or image to fetch; a Content-Security-Policy forbids every request) with the timeline of
 * the failover and the summary table the demo prints. The run's data is embedded as JSON
 * (`<script type="application/json" id="hotcold-run">`, never executed) for tools.
 */

const STYLE = `
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #111827; background: #fff; margin: 24px auto; max-width: 1000px; padding: 0 16px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 28px 0 8px; }
.lede { color: #374151; margin: 0 0 16px; }
.verdict { display: inline-block; padding: 2px 10px; border-radius: 999px; font-weight: 600; font-size: 13px; vertical-align: middle; margin-left: 8px; }
.verdict.ok { background: #dcfce7; color: #166534; }
.verdict.failed { background: #fee2e2; color: #991b1b; }
figure { margin: 0; }
svg { display: block; max-width: 100%; height: auto; font: 12px system-ui, -apple-system, "DejaVu Sans", sans-serif; }
svg .grid { stroke: #e5e7eb; }
svg .axis { stroke: #6b7280; }
svg .tick, svg .lane-label, svg .axis-title { fill: #374151; }
svg .series .area { fill-opacity: 0.14; stroke: none; }
svg .series .line { fill: none; stroke-width: 2; stroke-linejoin: round; }
svg .hover { fill: transparent; }
svg .hover:hover { fill: rgba(17, 24, 39, 0.06); }
svg .lane-bg { fill: #f9fafb; stroke: #e5e7eb; }
svg .in-lane { fill: #111827; font-size: 11px; }
svg .in-lane.on-dark { fill: #fff; }
svg .retry { stroke: #d97706; stroke-width: 1; }
svg .failure { stroke: #111827; stroke-width: 2; }
svg .failure.maybe { stroke: #dc2626; }
svg .outage { fill: #fecaca; fill-opacity: 0.45; stroke: #f87171; stroke-dasharray: 4 3; }
svg .outage-label { fill: #991b1b; font-weight: 600; }
svg .mark line { stroke: #111827; stroke-dasharray: 5 4; }
svg .mark[data-kind="takeover"] line { stroke: #16a34a; }
svg .mark text { fill: #111827; font-weight: 600; }
svg .mark[data-kind="takeover"] text { fill: #15803d; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 8px 0 0 150px; color: #374151; font-size: 13px; }
.legend span::before { content: ""; display: inline-block; width: 12px; height: 12px; margin-right: 6px; vertical-align: -1px; border-radius: 2px; background: var(--c); }
table { border-collapse: collapse; min-width: 560px; }
th, td { text-align: left; padding: 5px 12px; border-bottom: 1px solid #e5e7eb; }
th { font-weight: 500; color: #374151; }
td { font-variant-numeric: tabular-nums; }
tr.bad td { color: #991b1b; font-weight: 600; }
.notes { color: #4b5563; font-size: 13px; max-width: 800px; }
code { font-size: 12.5px; background: #f3f4f6; padding: 1px 4px; border-radius: 3px; }
`;

const SCENARIO_TITLE: Record<RunSummary['scenario'], string> = {
  crash: 'crash failover (SIGKILL of the hot node)',
  planned: 'planned switchover (SIGTERM: drain, release the lease)',
  freeze: 'frozen hot node (SIGSTOP, then SIGCONT)',
  'start-together': 'both nodes started together',
  rejoin: 'crash, then the killed node rejoins as the standby',
};

/** Embeds JSON in a `<script type="application/json">` block: no `</script>` can end it early. */
function jsonBlock(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c').replace(/>/g, '\\u003e').replace(/&/g, '\\u0026');
}

export interface FailoverReportInput {
  summary: RunSummary;
  timeline: RunTimeline;
  /** When the run happened (shown in the header); default now. */
  date?: Date;
}

/** The report page as one HTML string. */
export function renderFailoverReport({ summary, timeline, date = new Date() }: FailoverReportInput): string {
  const colours = nodeColours(timeline.nodes);
  const who = (x: { node: string | undefined; epoch: number | undefined }): string => `${x.node ?? '?'} (epoch ${x.epoch ?? '?'})`;
  const bad = new Set(['lost', 'duplicates', 'misclassified']);
  const rows = summaryRows(summary)
    .map((r) => {
      const wrong = (bad.has(r.key) && r.value !== '0') || (r.key === 'ok' && !summary.ok);
      return `<tr data-key="${escapeXml(r.key)}"${wrong ? ' class="bad"' : ''}><th scope="row">${escapeXml(r.label)}</th><td>${escapeXml(r.value)}</td></tr>`;
    })
    .join('\n');
  const legend = [
    ...timeline.nodes.map((n) => `<span style="--c:${colours[n] ?? '#111827'}">${escapeXml(n)}: calls / s, and active on <code>/health</code></span>`),
    `<span style="--c:#e5e7eb">standby</span>`,
    `<span style="--c:#fcd34d">draining</span>`,
    `<span style="--c:#9ca3af">no answer within 200 ms (frozen or busy)</span>`,
    `<span style="--c:#374151">process gone (killed)</span>`,
    `<span style="--c:#fecaca">outage: no call succeeded</span>`,
    `<span style="--c:#d97706">retry (transparent)</span>`,
    `<span style="--c:#111827">failed call, not executed</span>`,
    `<span style="--c:#dc2626">failed call, may have executed</span>`,
  ].join('\n');
  const outage = summary.outageMs > 0 ? `an outage of ${Math.round(summary.outageMs)} ms` : 'no outage';
  const lede = `${escapeXml(who(summary.from))} → ${escapeXml(who(summary.to))}: ${summary.calls} calls by ${summary.callers} callers, ${outage}, ${summary.retried} transparent retries, ${summary.failedCalls} failed, ${summary.lost} lost, ${summary.duplicates} done twice.`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>hotcold demo: ${escapeXml(summary.scenario)} failover report</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1>hotcold demo: ${escapeXml(SCENARIO_TITLE[summary.scenario])} <span id="verdict" class="verdict ${summary.ok ? 'ok' : 'failed'}">${summary.ok ? 'OK: nothing lost, nothing done twice' : 'FAILED'}</span></h1>
<p class="lede">${lede}<br><small>${escapeXml(summary.db)} lease database, ${summary.lb === 'dev' ? 'dev balancer' : escapeXml(summary.lb)}; run of ${(summary.durationMs / 1000).toFixed(1)} s on ${escapeXml(date.toISOString())}.</small></p>
</header>
<main>
<figure>
${renderTimelineSvg(timeline)}
<figcaption class="legend">${legend}</figcaption>
</figure>
<p class="notes">Top: acknowledged calls per second (${timeline.bucketMs} ms buckets) by the node that executed them (the fencing epoch in each answer). Below: what each node's <code>/health</code> answered (sampled every ~50 ms), the node the client last got an answer from, every transparent retry, every failure reported to a caller. Times are seconds since the demo started, as on its status lines.</p>
<h2>Summary</h2>
<table id="summary">
${rows}
</table>
<p class="notes"><b>lost</b>, <b>duplicated</b> and <b>misclassified</b> must be 0: they compare what every caller was told with the ledger the nodes wrote. A failure with <code>mayHaveExecuted: true</code> is the client telling the truth, not an error of the demo. See docs/demo.md.</p>
</main>
<script type="application/json" id="hotcold-run">${jsonBlock({ summary, timeline })}</script>
</body>
</html>
`;
}
