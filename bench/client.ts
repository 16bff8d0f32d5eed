/**
 * Client benchmark (`npm run bench -- client`), measured side by side in one run:
 *
 * 1. Success-path overhead per call over an in-memory no-op: the hotcold client vs cockatiel@3
 *    retry+breaker vs a plain p-retry+opossum wrapper, each minus the bare no-op baseline.
 *    Rounds are interleaved (A B C D A B C D …) so machine noise hits every variant alike, and
 *    the median round is reported.
 * 2. Loopback calls/s: `client.call` vs raw `axios.post` (keep-alive agent) to the same local
 *    server, which runs in its own process, sequential and 64 concurrent.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { circuitBreaker, ConsecutiveBreaker, handleAll, retry, wrap } from 'cockatiel';
import CircuitBreaker from 'opossum';
import pRetry from 'p-retry';
import { createClient, type HotcoldClient, type Transport, type TransportResponse } from '../src/index.js';
import type { BenchRow } from './report.js';

const SUITE = 'client';
const OVERHEAD_TARGET_US = 2;
const RATIO_TARGET = 0.95;

type Op = () => Promise<unknown>;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** Mean µs per call of `op` over `n` sequential awaited calls. */
async function timeLoop(op: Op, n: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await op();
  return Number(process.hrtime.bigint() - start) / 1000 / n;
}

async function overheadRows(): Promise<BenchRow[]> {
  const RESULT = { ok: true };
  const RESPONSE: TransportResponse = { result: RESULT, status: 200, node: 'memory', epoch: 1, dedup: false };
  // The same no-op async call under every variant.
  const noop = async (): Promise<unknown> => RESULT;
  const noopResponse = async (): Promise<TransportResponse> => RESPONSE;

  const transport: Transport = {
    send: noopResponse,
    health: async () => ({ ok: true, status: 200 }),
    close: async () => undefined,
  };
  const client = createClient({ url: 'http://127.0.0.1:9', transport });

  const cockatiel = wrap(
    retry(handleAll, { maxAttempts: 8 }),
    circuitBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(5) }),
  );
  const opossum = new CircuitBreaker(noop, {
    timeout: false,
    resetTimeout: 1000,
    errorThresholdPercentage: 50,
    volumeThreshold: 5,
  });

  const variants: Array<{ name: string; op: Op; n: number }> = [
    { name: 'baseline', op: noop, n: 200_000 },
    { name: 'hotcold', op: () => client.call('noop', null), n: 200_000 },
    { name: 'cockatiel', op: () => cockatiel.execute(noop), n: 200_000 },
    { name: 'p-retry+opossum', op: () => pRetry(() => opossum.fire(), { retries: 7 }), n: 50_000 },
  ];
  for (const v of variants) await timeLoop(v.op, Math.min(v.n, 50_000)); // warm-up: let the JIT settle
  const rounds = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < 7; round++) {
    for (const v of variants) rounds.get(v.name)?.push(await timeLoop(v.op, v.n));
  }
  await client.close();
  opossum.shutdown();

  const baseline = median(rounds.get('baseline') ?? []);
  const rows: BenchRow[] = [
    { suite: SUITE, name: 'no-op baseline (in-memory)', value: baseline, unit: 'µs/call' },
  ];
  for (const v of variants.slice(1)) {
    // Overhead per round against the same round's baseline, then the median of those.
    const base = rounds.get('baseline') ?? [];
    const overheads = (rounds.get(v.name) ?? []).map((t, i) => t - (base[i] ?? baseline));
    const value = median(overheads);
    const row: BenchRow = { suite: SUITE, name: `success-path overhead: ${v.name}`, value, unit: 'µs/call' };
    if (v.name === 'hotcold') {
      row.target = `<= ${OVERHEAD_TARGET_US} µs`;
      row.pass = value <= OVERHEAD_TARGET_US;
    }
    rows.push(row);
  }
  return rows;
}

interface Server {
  url: string;
  rpcUrl: string;
  stop(): Promise<void>;
}

async function startServerProcess(): Promise<Server> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script = fileURLToPath(new URL('../test/client/fixtures/bench-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const { url, rpcUrl } = JSON.parse(first) as { url: string; rpcUrl: string };
  return {
    url,
    rpcUrl,
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin.end();
      }),
  };
}

interface Rate {
  /** Calls completed per second (wall clock). */
  perSecond: number;
  /** This process's CPU time (user + system) per call, µs: robust to other load on the machine. */
  cpuUs: number;
}

/** Runs `workers` loops of `op` for `ms`. */
async function throughput(op: Op, workers: number, ms: number): Promise<Rate> {
  let done = 0;
  const until = performance.now() + ms;
  const start = performance.now();
  const cpu = process.cpuUsage();
  await Promise.all(
    Array.from({ length: workers }, async () => {
      while (performance.now() < until) {
        await op();
        done++;
      }
    }),
  );
  const used = process.cpuUsage(cpu);
  return { perSecond: done / ((performance.now() - start) / 1000), cpuUs: (used.user + used.system) / done };
}

async function loopbackRows(): Promise<BenchRow[]> {
  const server = await startServerProcess();
  const agent = new http.Agent({ keepAlive: true });
  const raw = axios.create({ httpAgent: agent });
  let id = 0;
  // What a hand-written JSON-RPC call with axios looks like: post, check, take the result.
  const rawCall: Op = async () => {
    const response = await raw.post<{ result?: unknown; error?: unknown }>(
      server.rpcUrl,
      { jsonrpc: '2.0', id: ++id, method: 'noop', params: null },
      { headers: { 'Content-Type': 'application/json' } },
    );
    if (response.data.error !== undefined) throw new Error('rpc error');
    return response.data.result;
  };
  const client: HotcoldClient = createClient({ url: server.url });
  const clientCall: Op = () => client.call('noop', null);

  const rows: BenchRow[] = [];
  try {
    // Sequential: raw and client calls alternate one by one and each call is timed, so both see
    // the same machine at the same moment (other processes' load drifts by the second here).
    for (let i = 0; i < 500; i++) {
      await rawCall();
      await clientCall();
    }
    const chunkRatios: number[] = [];
    let rawTotal = 0;
    let clientTotal = 0;
    let pairs = 0;
    for (let chunk = 0; chunk < 10; chunk++) {
      let rawNs = 0n;
      let clientNs = 0n;
      for (let i = 0; i < 400; i++) {
        // Which goes first alternates too: the second call of a pair runs in a slightly
        // different state (server, GC) and would otherwise always be the same variant.
        const first = i % 2 === 0 ? rawCall : clientCall;
        const second = i % 2 === 0 ? clientCall : rawCall;
        const t0 = process.hrtime.bigint();
        await first();
        const t1 = process.hrtime.bigint();
        await second();
        const t2 = process.hrtime.bigint();
        if (i % 2 === 0) {
          rawNs += t1 - t0;
          clientNs += t2 - t1;
        } else {
          clientNs += t1 - t0;
          rawNs += t2 - t1;
        }
      }
      chunkRatios.push(Number(rawNs) / Number(clientNs));
      rawTotal += Number(rawNs);
      clientTotal += Number(clientNs);
      pairs += 400;
    }
    const sequentialRatio = median(chunkRatios);
    rows.push(
      { suite: SUITE, name: 'loopback sequential: raw axios.post', value: (pairs * 1e9) / rawTotal, unit: 'calls/s' },
      { suite: SUITE, name: 'loopback sequential: client.call', value: (pairs * 1e9) / clientTotal, unit: 'calls/s' },
      {
        suite: SUITE,
        name: 'loopback sequential: client/raw',
        value: sequentialRatio,
        unit: 'ratio',
        target: `>= ${RATIO_TARGET}`,
        pass: sequentialRatio >= RATIO_TARGET,
        note: 'median over 10 chunks of 400 interleaved call pairs',
      },
    );

    // 64 concurrent: short alternating slices (ABBA…), median of the per-pair ratios.
    const workers = 64;
    await throughput(rawCall, workers, 500);
    await throughput(clientCall, workers, 500);
    const rawRates: Rate[] = [];
    const clientRates: Rate[] = [];
    for (let round = 0; round < 24; round++) {
      if (round % 2 === 0) {
        rawRates.push(await throughput(rawCall, workers, 300));
        clientRates.push(await throughput(clientCall, workers, 300));
      } else {
        clientRates.push(await throughput(clientCall, workers, 300));
        rawRates.push(await throughput(rawCall, workers, 300));
      }
    }
    const label = `${workers} concurrent`;
    const rawRate = median(rawRates.map((r) => r.perSecond));
    const clientRate = median(clientRates.map((r) => r.perSecond));
    const ratio = median(clientRates.map((c, i) => c.perSecond / (rawRates[i]?.perSecond ?? rawRate)));
    const cpuRatio = median(rawRates.map((r, i) => r.cpuUs / (clientRates[i]?.cpuUs ?? r.cpuUs)));
    rows.push(
      { suite: SUITE, name: `loopback ${label}: raw axios.post`, value: rawRate, unit: 'calls/s' },
      { suite: SUITE, name: `loopback ${label}: client.call`, value: clientRate, unit: 'calls/s' },
      {
        suite: SUITE,
        name: `loopback ${label}: client/raw`,
        value: ratio,
        unit: 'ratio',
        target: `>= ${RATIO_TARGET}`,
        pass: ratio >= RATIO_TARGET,
        note: 'median over 24 alternating 300 ms slices',
      },
      {
        suite: SUITE,
        name: `loopback ${label}: raw/client CPU per call`,
        value: cpuRatio,
        unit: 'ratio',
        note: `client ${median(clientRates.map((r) => r.cpuUs)).toFixed(0)} µs vs raw ${median(rawRates.map((r) => r.cpuUs)).toFixed(0)} µs CPU per call`,
      },
    );
  } finally {
    await client.close();
    agent.destroy();
    await server.stop();
  }
  return rows;
}

export async function runBench(): Promise<BenchRow[]> {
  return [...(await overheadRows()), ...(await loopbackRows())];
}
