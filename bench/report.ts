/** Shared shape and printing for every benchmark in bench/. */
export interface BenchRow {
  suite: string;
  name: string;
  value: number;
  /** How far the runs behind `value` spread, e.g. '3512–3890' (min–max). */
  spread?: string;
  unit: string;
  /** Human-readable target, e.g. '<= 2 µs'. */
  target?: string;
  /** Whether the target was met, when there is one. */
  pass?: boolean;
  note?: string;
}

export function printTable(rows: readonly BenchRow[]): string {
  const header = ['suite', 'measurement', 'value', 'spread', 'unit', 'target', 'ok'];
  const body = rows.map((r) => [
    r.suite,
    r.name,
    formatValue(r.value),
    r.spread ?? '',
    r.unit,
    r.target ?? '',
    r.pass === undefined ? '' : r.pass ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]): string => `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  const sep = `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`;
  return [line(header), sep, ...body.map(line)].join('\n');
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return value.toFixed(0);
  if (Math.abs(value) >= 1) return value.toFixed(2);
  return value.toFixed(3);
}
