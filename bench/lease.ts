import type { BenchRow } from './report.js';

/** Placeholder until the lease benchmark lands. */
export async function runBench(): Promise<BenchRow[]> {
  return [];
}
