import type { BenchRow } from './report.js';

/** Placeholder until the failover benchmark lands. */
export async function runBench(): Promise<BenchRow[]> {
  return [];
}
