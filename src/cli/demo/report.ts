import type { LedgerVerdict } from './ledger-check.js';

/** What the demo, the e2e suite and the bench report about one failover run. */
export interface RunSummary {
  /** `rejoin`: a crash, then the killed node restarts on its address as the standby. */
  scenario: 'crash' | 'planned' | 'freeze' | 'start-together' | 'rejoin';
  db: 'sqlite' | 'postgres';
  lb: 'dev' | 'haproxy' | 'nginx';
  callers: number;
  calls: number;
  acknowledged: number;
  failedCalls: number;
  /** Retry attempts the clients made (client `retry` events). */
  retried: number;
  lost: number;
  duplicates: number;
  /** Failures reported as "not executed" that had executed. */
  misclassified: number;
  unaccounted: number;
  /**
   * The failover's client-observed outage: the longest time without a successful call, from the
   * fault to the first success after the standby took over.
   */
  outageMs: number;
  /** The longest time without a successful call anywhere after the fault (end of run included). */
  longestGapMs: number;
  /** From the fault (kill/stop/drain) to the first call the new node answered. */
  takeoverMs: number | undefined;
  failovers: number;
  slowestCallMs: number;
  /** The slowest call in flight between the fault and the first success on the new node. */
  slowestFailoverCallMs: number;
  from: { node: string | undefined; epoch: number | undefined };
  /** Where the client saw service last (after every failover of the run). */
  to: { node: string | undefined; epoch: number | undefined };
  /**
   * Where the client's first failover after the fault went: the takeover the fault caused.
   * Differs from `to` when a later failover moved service again (under load a holder can lose
   * its lease to a renewal that came too late, and the fenced node, back as the standby, take it).
   * Undefined when the client saw no failover after the fault.
   */
  takeover: { node: string | undefined; epoch: number | undefined } | undefined;
  failuresByKind: Record<string, number>;
  durationMs: number;
  ok: boolean;
}

export function summaryFromVerdict(
  verdict: LedgerVerdict,
  rest: Omit<RunSummary, 'calls' | 'acknowledged' | 'failedCalls' | 'lost' | 'duplicates' | 'misclassified' | 'unaccounted' | 'failuresByKind' | 'ok'>,
): RunSummary {
  return {
    ...rest,
    calls: verdict.calls,
    acknowledged: verdict.acknowledged,
    failedCalls: verdict.failedCalls,
    lost: verdict.lost,
    duplicates: verdict.duplicates,
    misclassified: verdict.misclassified,
    unaccounted: verdict.unaccounted,
    failuresByKind: verdict.failuresByKind,
    ok: verdict.ok,
  };
}

/**
 * The summary as `hotcold demo --json` prints it: every number rounded to a whole one (the times
 * are whole milliseconds; a fraction of a millisecond measured on a loaded machine is noise).
 */
export function roundedSummary(summary: RunSummary): RunSummary {
  return JSON.parse(JSON.stringify(summary, (_key, value: unknown) => (typeof value === 'number' ? Math.round(value) : value))) as RunSummary;
}

export interface LiveStatus {
  elapsedMs: number;
  phase: string;
  node: string | undefined;
  epoch: number | undefined;
  ok: number;
  retried: number;
  failed: number;
  /** Time since the last successful call while that is noticeable, else 0. */
  outageMs: number;
}

/** One status line, fixed layout so that redraws do not jitter. */
export function formatStatusLine(s: LiveStatus): string {
  const hot = s.node === undefined ? 'none' : `${s.node} (epoch ${s.epoch ?? '?'})`;
  const outage = s.outageMs > 0 ? `outage ${(s.outageMs / 1000).toFixed(1)} s` : 'serving';
  return [
    `${(s.elapsedMs / 1000).toFixed(1).padStart(5)} s`,
    s.phase.padEnd(10),
    `hot ${hot}`.padEnd(26),
    `ok ${String(s.ok).padStart(6)}`,
    `retried ${String(s.retried).padStart(5)}`,
    `failed ${String(s.failed).padStart(4)}`,
    outage,
  ].join('  ');
}

const ms = (v: number | undefined): string => (v === undefined ? '-' : `${Math.round(v)} ms`);
const who = (x: { node: string | undefined; epoch: number | undefined }): string =>
  x.node === undefined ? '-' : `${x.node} (epoch ${x.epoch ?? '?'})`;

/** `from -> to`; with the takeover first when service moved again after it (see {@link RunSummary.takeover}). */
export function fromTo(s: Pick<RunSummary, 'from' | 'to' | 'takeover'>): string {
  const t = s.takeover;
  const moved = t !== undefined && (t.node !== s.to.node || t.epoch !== s.to.epoch);
  return moved ? `${who(s.from)} -> ${who(t)}, later ${who(s.to)}` : `${who(s.from)} -> ${who(s.to)}`;
}

/** One row of the summary: `key` is the `RunSummary` field it shows (`from-to` and `setup` combine two). */
export interface SummaryRow {
  key: keyof RunSummary | 'from-to' | 'setup';
  label: string;
  value: string;
}

/** The summary's rows, as the table at the end of the demo and the HTML report show them. */
export function summaryRows(s: RunSummary): SummaryRow[] {
  const kinds = Object.entries(s.failuresByKind).map(([k, n]) => `${k} ${n}`).join(', ');
  const row = (key: SummaryRow['key'], label: string, value: string): SummaryRow => ({ key, label, value });
  return [
    row('scenario', 'scenario', `${s.scenario === 'planned' ? 'planned switchover (drain)' : s.scenario === 'crash' ? 'crash (SIGKILL of the hot node)' : s.scenario}`),
    row('setup', 'lease database / balancer', `${s.db} / ${s.lb === 'dev' ? 'dev balancer' : s.lb === 'nginx' ? 'nginx' : 'HAProxy'}`),
    row('from-to', 'hot node before -> after', fromTo(s)),
    row('failovers', 'failovers seen by the client', String(s.failovers)),
    row('callers', 'concurrent callers', String(s.callers)),
    row('calls', 'calls made', String(s.calls)),
    row('acknowledged', 'acknowledged', String(s.acknowledged)),
    row('failedCalls', 'failed (reported to the caller)', `${s.failedCalls}${kinds ? ` (${kinds})` : ''}`),
    row('retried', 'retries (transparent)', String(s.retried)),
    row('lost', 'lost (acknowledged, not in ledger)', String(s.lost)),
    row('duplicates', 'duplicated (executed twice)', String(s.duplicates)),
    row('misclassified', 'misclassified ("not executed" but ran)', String(s.misclassified)),
    row('outageMs', 'client-observed outage (failover)', ms(s.outageMs)),
    row('longestGapMs', 'longest gap after the fault', ms(s.longestGapMs)),
    row('takeoverMs', 'fault -> first call on new node', ms(s.takeoverMs)),
    row('slowestFailoverCallMs', 'slowest call across the failover', ms(s.slowestFailoverCallMs)),
    row('slowestCallMs', 'slowest call (whole run)', ms(s.slowestCallMs)),
    row('ok', 'verdict', s.ok ? 'OK: nothing lost, nothing done twice' : 'FAILED'),
  ];
}

/** The human summary table printed at the end of the demo. */
export function formatSummaryTable(s: RunSummary): string {
  const rows = summaryRows(s).map((r): [string, string] => [r.label, r.value]);
  const width = Math.max(...rows.map(([k]) => k.length));
  const line = `+${'-'.repeat(width + 2)}+${'-'.repeat(Math.max(...rows.map(([, v]) => v.length)) + 2)}+`;
  return [line, ...rows.map(([k, v]) => `| ${k.padEnd(width)} | ${v.padEnd(line.length - width - 7)} |`), line].join('\n');
}
