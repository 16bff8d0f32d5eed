/**
 * The cost of `policy.execute(noop)` with no OpenTelemetry SDK registered (issue 10: telemetry
 * must cost nothing when nobody collects). Prints the median µs per call over rounds; run it
 * before and after a change on the same machine: `npx tsx bench/policy-noop.ts [calls]`.
 */
import { loadCore } from './subject.js';

const { createPolicy } = await loadCore();

const calls = Number(process.argv[2] ?? 1_000_000);
const noop = (): number => 1;
const options = { name: 'noop' };

async function round(run: () => Promise<unknown>, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await run();
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

const policy = createPolicy();
const execute = (): Promise<number> => policy.execute(noop, options);
const baseline = (): Promise<number> => Promise.resolve(noop());
await round(execute, 100_000);
await round(baseline, 100_000);
const overheads: number[] = [];
for (let r = 0; r < 9; r++) overheads.push((await round(execute, calls)) - (await round(baseline, calls)));
overheads.sort((a, b) => a - b);
console.log(JSON.stringify({ medianOverheadUs: Number(overheads[4]?.toFixed(4)), rounds: overheads.map((v) => Number(v.toFixed(4))) }));
await policy.close();
