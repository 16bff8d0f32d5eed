/**
 * Side-by-side rate measurement shared by the loopback benchmarks (JSON-RPC, REST, gRPC): each
 * variant runs `callers` concurrent loops for a slice of wall time, the variants alternate within
 * a round and each order is followed by its reverse (see {@link alternate}), so drift in the
 * machine's load hits all alike. Figures are medians over the rounds with their min–max.
 */
import { mulberry32 } from '../test/lease/stress/random.js';
import type { BenchRow } from './report.js';

export type Op = () => Promise<unknown>;

export const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

export const range = (values: readonly number[], digits: number): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

/** A server in its own process that reports the CPU time (user + system, µs) it has used so far. */
export interface CpuReporter {
  cpuUs(): Promise<number>;
}

export interface Slice {
  /** Calls completed per second (wall clock). */
  perSecond: number;
  /** This process's CPU time (user + system) per call, µs: less sensitive to other load. */
  cpuUs: number;
  /** The server's CPU time over the slice's wall time: 1 = one core busy all the time. */
  serverBusy: number;
}

/** Runs `callers` concurrent loops of `op` for `ms`. */
export async function slice(op: Op, callers: number, ms: number, server: CpuReporter): Promise<Slice> {
  let done = 0;
  const serverBefore = await server.cpuUs();
  const start = performance.now();
  const until = start + ms;
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: callers }, async () => {
      while (performance.now() < until) {
        await op();
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  const wallMs = performance.now() - start;
  const serverUsed = (await server.cpuUs()) - serverBefore;
  return { perSecond: done / (wallMs / 1000), cpuUs: (used.user + used.system) / done, serverBusy: serverUsed / 1000 / wallMs };
}

/**
 * Each of `ops` warmed up for 500 ms (JIT, sockets opened up to `callers` on both sides), then
 * `rounds` rounds of one `sliceMs` slice each. Rounds come in pairs: an order, then the same
 * order reversed, so every op has the same average position. With more than two ops the order of
 * each pair is a fresh (seeded) permutation: a fixed order would keep each op at the same distance
 * from the first, so the op next to it would always share its moment of the machine's drift and
 * the one farthest away never would (which made an A/A control look noisier than the pair it
 * stands beside). Returns the slices per op, in the order of `ops`.
 */
export async function alternate<const T extends readonly Op[]>(ops: T, callers: number, rounds: number, sliceMs: number, server: CpuReporter): Promise<{ [K in keyof T]: Slice[] }> {
  for (const op of ops) await slice(op, callers, 500, server);
  const slices: Slice[][] = ops.map(() => []);
  const random = mulberry32(rounds * 31 + ops.length);
  let order = ops.map((_, i) => i);
  for (let round = 0; round < rounds; round++) {
    if (round % 2 === 0) {
      if (ops.length > 2) order = shuffled(order, random);
    } else {
      order = [...order].reverse();
    }
    for (const i of order) (slices[i] as Slice[]).push(await slice(ops[i] as Op, callers, sliceMs, server));
  }
  return slices as { [K in keyof T]: Slice[] };
}

/** Fisher–Yates. */
function shuffled(values: readonly number[], random: () => number): number[] {
  const out = [...values];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as number, out[i] as number];
  }
  return out;
}

/** The ratio of the median rates of `over` and `under`; its spread is the per-round ratios. */
export function ratioRow(suite: string, name: string, over: readonly Slice[], under: readonly Slice[], note: string, target?: number): BenchRow {
  const a = over.map((s) => s.perSecond);
  const b = under.map((s) => s.perSecond);
  const value = median(a) / median(b);
  return {
    suite,
    name: `${name} (ratio of medians)`,
    value,
    spread: range(
      a.map((x, i) => x / (b[i] ?? Number.NaN)),
      3,
    ),
    unit: 'ratio',
    ...(target === undefined ? {} : { target: `>= ${target}`, pass: value >= target }),
    note,
  };
}
