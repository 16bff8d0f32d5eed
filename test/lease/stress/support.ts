/** Shared bits of the stress test files: the seed, the run, and what every run must show. */
import { expect } from 'vitest';
import { runStress, type StressOptions, type StressReport } from './driver.js';

/** Seconds per store in `npm test`, start-up included (HOTCOLD_STRESS_SECONDS overrides). */
export const STRESS_SECONDS = Number(process.env.HOTCOLD_STRESS_SECONDS ?? 20);

/** HOTCOLD_STRESS_SEED reproduces a run's fault schedule; otherwise a fresh seed, printed. */
export function stressSeed(): number {
  const env = process.env.HOTCOLD_STRESS_SEED;
  return env !== undefined && env !== '' ? Number(env) : Date.now() % 2 ** 31;
}

/** Runs the suite and prints its summary (kept in the test output as the run's record). */
export async function runAndPrint(options: Omit<StressOptions, 'seed'>): Promise<StressReport> {
  const report = await runStress({ minTakeovers: 3, ...options, seed: stressSeed() });
  console.log(report.summary);
  return report;
}

/** A run with self-fencing on: no violation, no crash, and enough happened to mean something. */
export function expectSafe(report: StressReport, minTakeovers: number): void {
  expect(report.unexpectedExits, report.summary).toEqual([]);
  expect(report.result.violations, report.summary).toEqual([]);
  expect(report.result.takeovers, report.summary).toBeGreaterThanOrEqual(minTakeovers);
  expect(report.result.acceptedWrites, report.summary).toBeGreaterThan(0);
}

/**
 * The negative control: the checker must catch two holders serving at once, while the database
 * fence still refused every stale write.
 */
export function expectCaught(report: StressReport): void {
  const kinds = report.result.violations.map((v) => v.kind);
  expect(kinds, report.summary).toContain('overlap');
  expect(kinds.filter((k) => k !== 'overlap'), report.summary).toEqual([]);
  expect(report.result.rejectedStaleWrites, report.summary).toBeGreaterThan(0);
}

/**
 * Runs the negative control until a run shows two holders serving at once (at most `attempts`
 * runs), then applies {@link expectCaught} to that run. Whether the stale holder acts before its
 * rejected renewal tells it the lease is gone is a race on resume (that race is exactly what
 * self-fencing removes), so one run under heavy load can miss it; several in a row must not.
 */
export async function runNegativeControl(options: Omit<StressOptions, 'seed' | 'selfFencing' | 'scenario'>, attempts = 3): Promise<StressReport> {
  let report: StressReport | undefined;
  for (let i = 0; i < attempts; i++) {
    report = await runAndPrint({ ...options, scenario: 'stale-holder', selfFencing: false });
    if (report.result.violations.some((v) => v.kind === 'overlap')) break;
  }
  expectCaught(report as StressReport);
  return report as StressReport;
}
