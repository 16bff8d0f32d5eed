import type { BenchRow } from './report.js';

/** Placeholder until the client benchmark lands. */
export async function runBench(): Promise<BenchRow[]> {
  return [];
}
