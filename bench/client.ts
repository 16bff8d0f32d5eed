/**
 * Client benchmark (`npm run bench -- client`), measured side by side in one run:
 *
 * 1. Success-path overhead per call over an in-memory no-op: the hotcold client vs cockatiel@3
 *    retry+breaker vs a plain p-retry+opossum wrapper, each minus the bare no-op baseline.
 *    Rounds are interleaved (A B C D A B C D …) so machine noise hits every variant alike, and
 *    the median round is reported.
 * 2. Loopback, 1 and 64 concurrent callers: `client.call` vs a hand-written raw `axios.post`
 *    (keep-alive agent) to bench/rpc-server.ts, a node:http server in its own process that does
 *    the least a node must (`--server-workers=N` runs it as N cluster workers). Both are measured
 *    in the same run in alternating slices; each figure is the median over the slices with its
 *    min–max; the ratio printed is the ratio of the printed medians; CPU per call is this
 *    process's `process.cpuUsage()` over the calls it completed, which other load on the machine
 *    disturbs far less than calls/s. The server's own CPU use is printed to show it is not what
 *    limits the rate. An A/A control (the raw call on a second instance) runs in the same
 *    alternation: its distance from 1 is the run's own error. Targets are printed, never
 *    asserted: a shared machine decides nothing.
 * 3. gRPC unary calls/s through `grpcInterceptor` vs bare @grpc/grpc-js, 1 and 64 callers, the
 *    server (bench/grpc-server.ts) in its own process: bench/grpc.ts.
 *
 * `HOTCOLD_BENCH_CLIENT_PARTS=overhead` (or loopback, rest, grpc; comma-separated) runs those parts alone.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import axios, { type AxiosInstance } from 'axios';
import { circuitBreaker, ConsecutiveBreaker, handleAll, retry, wrap } from 'cockatiel';
import CircuitBreaker from 'opossum';
import pRetry from 'p-retry';
import type { HotcoldClient, Transport, TransportResponse } from '../src/index.js';
import { loadCore } from './subject.js';
import type { BenchRow } from './report.js';
import { alternate, median, range, ratioRow, type Op } from './slices.js';
import { grpcRows } from './grpc.js';

const { createClient, createPolicy } = await loadCore();

const SUITE = 'client';
const OVERHEAD_TARGET_US = 0.15;
const POLICY_VS_COCKATIEL_US = 0.1;
const RATIO_TARGET = 0.97;
const CPU_EXTRA_TARGET_US = 10;


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
  // The protocol-neutral pipeline around the same no-op (its attempt timeout is enforced by the
  // pipeline itself: the no-op ignores its signal).
  const policy = createPolicy();
  const execute = { name: 'noop' };

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

  // Floors of any wrapper that honours the call contract, measured in the same rounds: it must
  // see the outcome (one promise reaction on the function's promise) and, for the whole-call
  // deadline (DESIGN §3), read a monotonic clock once as the call starts. What they cost on this
  // machine is what no implementation of the contract can go below.
  const pass = (value: unknown): unknown => value;
  const reactionFloor = (): Promise<unknown> => noop().then(pass);
  const clockFloor = (): Promise<unknown> => {
    const startedAt = performance.now();
    return noop().then((value) => (startedAt >= 0 ? value : undefined));
  };

  const variants: Array<{ name: string; op: Op; n: number }> = [
    { name: 'baseline', op: noop, n: 200_000 },
    { name: 'floor: one promise reaction', op: reactionFloor, n: 200_000 },
    { name: 'floor: one promise reaction + one clock read', op: clockFloor, n: 200_000 },
    { name: 'hotcold', op: () => client.call('noop', null), n: 200_000 },
    { name: 'policy.execute', op: () => policy.execute(noop, execute), n: 200_000 },
    { name: 'cockatiel', op: () => cockatiel.execute(noop), n: 200_000 },
    { name: 'p-retry+opossum', op: () => pRetry(() => opossum.fire(), { retries: 7 }), n: 50_000 },
  ];
  for (const v of variants) await timeLoop(v.op, Math.min(v.n, 50_000)); // warm-up: let the JIT settle
  const rounds = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let round = 0; round < 7; round++) {
    for (const v of variants) rounds.get(v.name)?.push(await timeLoop(v.op, v.n));
  }
  await client.close();
  await policy.close();
  opossum.shutdown();

  const baseline = median(rounds.get('baseline') ?? []);
  const rows: BenchRow[] = [
    { suite: SUITE, name: 'no-op baseline (in-memory)', value: baseline, spread: range(rounds.get('baseline') ?? [], 3), unit: 'µs/call' },
  ];
  const base = rounds.get('baseline') ?? [];
  const overheadOf = (name: string): number[] => (rounds.get(name) ?? []).map((t, i) => t - (base[i] ?? baseline));
  for (const v of variants.slice(1)) {
    // Overhead per round against the same round's baseline, then the median of those.
    const overheads = overheadOf(v.name);
    const value = median(overheads);
    const row: BenchRow = {
      suite: SUITE,
      name: `success-path overhead: ${v.name}`,
      value,
      spread: range(overheads, 3),
      unit: 'µs/call',
      note: 'median of 7 interleaved rounds, each minus its own baseline',
    };
    if (v.name.startsWith('floor:')) {
      row.note = 'diagnostic: what any wrapper of the contract pays (see overheadRows); median of 7 interleaved rounds';
    }
    if (v.name === 'hotcold') {
      row.target = `<= ${OVERHEAD_TARGET_US} µs`;
      row.pass = value <= OVERHEAD_TARGET_US;
    }
    if (v.name === 'policy.execute') {
      // Issue 9: within 0.1 µs of cockatiel's wrap(retry, breaker) in the same run, or faster.
      const cockatiel = median(overheadOf('cockatiel'));
      row.target = `<= cockatiel + ${POLICY_VS_COCKATIEL_US} µs (${(cockatiel + POLICY_VS_COCKATIEL_US).toFixed(3)})`;
      row.pass = value <= cockatiel + POLICY_VS_COCKATIEL_US;
    }
    rows.push(row);
  }
  return rows;
}

interface Server {
  url: string;
  /** CPU time (µs) the server's processes have used so far. */
  cpuUs(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * bench/rpc-server.ts in a child process: node:http, minimal work, so the server is as fast as
 * the machine allows and is not what limits the rate (its CPU use is reported to show that).
 */
async function startServerProcess(workers: number): Promise<Server> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script = fileURLToPath(new URL('./rpc-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script, '--workers', String(workers)], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'inherit', 'ipc'],
  });
  const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const { url } = JSON.parse(first) as { url: string };
  return {
    url,
    cpuUs: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m: { cpuUs: number }) => resolve(m.cpuUs));
        child.send('cpu');
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin?.end();
      }),
  };
}

const CALLERS = [1, 64];
const ROUNDS = 10;
const SLICE_MS = 600;

async function loopbackRows(): Promise<BenchRow[]> {
  const workersArg = process.argv.find((a) => a.startsWith('--server-workers='));
  const server = await startServerProcess(workersArg === undefined ? 1 : Number(workersArg.split('=')[1]));
  const rpcUrl = `${server.url}/rpc`;
  const agent = new http.Agent({ keepAlive: true });
  const controlAgent = new http.Agent({ keepAlive: true });
  let id = 0;
  // What a hand-written JSON-RPC call with axios looks like: post, check, take the result.
  const rawOn = (instance: AxiosInstance): Op => async () => {
    const response = await instance.post<{ result?: unknown; error?: unknown }>(
      rpcUrl,
      { jsonrpc: '2.0', id: ++id, method: 'noop', params: null },
      { headers: { 'Content-Type': 'application/json' } },
    );
    if (response.data.error !== undefined) throw new Error('rpc error');
    return response.data.result;
  };
  const rawCall = rawOn(axios.create({ httpAgent: agent }));
  // The A/A control: the same call on a second instance and agent of its own.
  const controlCall = rawOn(axios.create({ httpAgent: controlAgent }));
  const client: HotcoldClient = createClient({ url: server.url });
  const clientCall: Op = () => client.call('noop', null);

  const rows: BenchRow[] = [];
  try {
    for (const callers of CALLERS) {
      const [rawSlices, clientSlices, controlSlices] = await alternate([rawCall, clientCall, controlCall], callers, ROUNDS, SLICE_MS, server);
      const label = `loopback ${callers} caller${callers === 1 ? '' : 's'}`;
      const rawRates = rawSlices.map((s) => s.perSecond);
      const clientRates = clientSlices.map((s) => s.perSecond);
      const rawCpu = rawSlices.map((s) => s.cpuUs);
      const clientCpu = clientSlices.map((s) => s.cpuUs);
      const busy = [...rawSlices, ...clientSlices].map((s) => s.serverBusy * 100);
      const ratio = median(clientRates) / median(rawRates);
      const cpuExtra = median(clientCpu) - median(rawCpu);
      const spreadNote = `min–max over ${ROUNDS} alternating ${SLICE_MS} ms slices`;
      rows.push(
        { suite: SUITE, name: `${label}: raw axios.post`, value: median(rawRates), spread: range(rawRates, 0), unit: 'calls/s', note: spreadNote },
        { suite: SUITE, name: `${label}: client.call`, value: median(clientRates), spread: range(clientRates, 0), unit: 'calls/s', note: spreadNote },
        {
          suite: SUITE,
          name: `${label}: client/raw (ratio of medians)`,
          value: ratio,
          spread: range(clientRates.map((c, i) => c / (rawRates[i] ?? Number.NaN)), 3),
          unit: 'ratio',
          target: `>= ${RATIO_TARGET}`,
          pass: ratio >= RATIO_TARGET,
          note: 'spread: per-round ratios',
        },
        ratioRow(SUITE, `${label}: control/raw`, controlSlices, rawSlices, "A/A control: the raw call on a second instance; its distance from 1 is this run's error"),
        { suite: SUITE, name: `${label}: raw axios.post CPU`, value: median(rawCpu), spread: range(rawCpu, 0), unit: 'µs/call' },
        { suite: SUITE, name: `${label}: client.call CPU`, value: median(clientCpu), spread: range(clientCpu, 0), unit: 'µs/call' },
        {
          suite: SUITE,
          name: `${label}: client CPU − raw CPU (of medians)`,
          value: cpuExtra,
          spread: range(clientCpu.map((c, i) => c - (rawCpu[i] ?? Number.NaN)), 0),
          unit: 'µs/call',
          target: `<= ${CPU_EXTRA_TARGET_US} µs`,
          pass: cpuExtra <= CPU_EXTRA_TARGET_US,
          note: 'spread: per-round differences',
        },
        {
          suite: SUITE,
          name: `${label}: server CPU busy`,
          value: median(busy),
          spread: range(busy, 0),
          unit: '% of a core',
          note: 'server process(es) CPU / wall time; near 100 × workers means the server limits the rate',
        },
      );
    }
  } finally {
    await client.close();
    agent.destroy();
    controlAgent.destroy();
    await server.stop();
  }
  return rows;
}

/** The suite's parts, in order; `HOTCOLD_BENCH_CLIENT_PARTS=overhead,rest` runs only those named. */
const PARTS: Record<string, () => Promise<BenchRow[]>> = {
  overhead: overheadRows,
  loopback: loopbackRows,
  rest: async () => (await import('./rest.js')).restRows(),
  grpc: grpcRows,
};

export async function runBench(): Promise<BenchRow[]> {
  const wanted = (process.env.HOTCOLD_BENCH_CLIENT_PARTS ?? Object.keys(PARTS).join(',')).split(',');
  const unknown = wanted.filter((part) => !(part in PARTS));
  if (unknown.length > 0) throw new Error(`bench: unknown client part(s) ${unknown.join(', ')} (have: ${Object.keys(PARTS).join(', ')})`);
  const rows: BenchRow[] = [];
  for (const part of Object.keys(PARTS)) if (wanted.includes(part)) rows.push(...(await (PARTS[part] as () => Promise<BenchRow[]>)()));
  return rows;
}
