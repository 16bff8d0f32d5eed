import type { ConformanceReport } from './types.js';

const LABEL = { pass: 'PASS', fail: 'FAIL', skip: 'SKIP' } as const;

/**
 * The report as a plain-text table, one row per check (`PASS`/`FAIL`/`SKIP`, id, requirement),
 * each followed by an indented line with what was observed, then the totals. What
 * `hotcold conformance` prints.
 *
 * @example
 * ```ts
 * import { formatConformanceReport, runConformance } from 'hotcold/testing';
 *
 * process.stdout.write(formatConformanceReport(await runConformance('http://127.0.0.1:8080')));
 * ```
 */
export function formatConformanceReport(report: ConformanceReport): string {
  const idWidth = Math.max(5, ...report.results.map((r) => r.id.length));
  const lines = [
    `hotcold conformance: ${report.url}${report.standbyUrl === undefined ? '' : ` (standby: ${report.standbyUrl})`}`,
    '',
    `${'RESULT'.padEnd(6)}  ${'CHECK'.padEnd(idWidth)}  REQUIREMENT (docs/wire.md)`,
  ];
  for (const r of report.results) {
    lines.push(`${LABEL[r.outcome].padEnd(6)}  ${r.id.padEnd(idWidth)}  ${r.requirement}`);
    lines.push(`${''.padEnd(6)}  ${''.padEnd(idWidth)}  ${r.outcome === 'fail' ? '✗ ' : '→ '}${r.detail}`);
  }
  lines.push('', `${report.passed} passed, ${report.failed} failed, ${report.skipped} skipped: ${report.ok ? 'CONFORMS' : 'DOES NOT CONFORM'}`);
  return `${lines.join('\n')}\n`;
}
