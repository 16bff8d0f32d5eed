/**
 * REST benchmark rows of the `client` suite (`npm run bench -- client`): `attachPolicy` on an
 * axios instance against the same bare axios instance, 1 and 64 concurrent callers, `GET` over
 * loopback to bench/rpc-server.ts (node:http in its own process; a GET gets a small JSON answer
 * with the node headers). Both are measured in the same run in alternating slices; each figure is
 * the median over the slices with its min–max, and the ratio printed is the ratio of the printed
 * medians. CPU per call is this process's `process.cpuUsage()` per completed call. Targets are
 * printed, never asserted.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { loadAxios } from './subject.js';
import type { BenchRow } from './report.js';

const { attachPolicy } = await loadAxios();

const SUITE = 'client';
const RATIO_TARGET = 0.97;
const CALLERS = [1, 64];
const ROUNDS = 10;
const SLICE_MS = 600;

type Op = () => Promise<unknown>;

const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};
const range = (values: number[], digits: number): string => `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}`;

interface Server {
  url: string;
  cpuUs(): Promise<number>;
  stop(): Promise<void>;
}

async function startServerProcess(): Promise<Server> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script = fileURLToPath(new URL('./rpc-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
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

interface Slice {
  perSecond: number;
  cpuUs: number;
  serverBusy: number;
}

async function slice(op: Op, callers: number, ms: number, server: Server): Promise<Slice> {
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

export async function restRows(): Promise<BenchRow[]> {
  const server = await startServerProcess();
  // Two instances configured alike (own keep-alive agents); one gets the policy.
  const bareAgent = new http.Agent({ keepAlive: true });
  const attachedAgent = new http.Agent({ keepAlive: true });
  const bare = axios.create({ baseURL: server.url, httpAgent: bareAgent });
  const attached = axios.create({ baseURL: server.url, httpAgent: attachedAgent });
  const handle = attachPolicy(attached, { routes: { 'GET /accounts/:id': { timeoutMs: 5000 } } });
  const bareCall: Op = () => bare.get('/accounts/A');
  const attachedCall: Op = () => attached.get('/accounts/A');
  const rows: BenchRow[] = [];
  try {
    for (const callers of CALLERS) {
      await slice(bareCall, callers, 500, server);
      await slice(attachedCall, callers, 500, server);
      const bareSlices: Slice[] = [];
      const attachedSlices: Slice[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        if (round % 2 === 0) {
          bareSlices.push(await slice(bareCall, callers, SLICE_MS, server));
          attachedSlices.push(await slice(attachedCall, callers, SLICE_MS, server));
        } else {
          attachedSlices.push(await slice(attachedCall, callers, SLICE_MS, server));
          bareSlices.push(await slice(bareCall, callers, SLICE_MS, server));
        }
      }
      const label = `REST loopback ${callers} caller${callers === 1 ? '' : 's'}`;
      const bareRates = bareSlices.map((s) => s.perSecond);
      const attachedRates = attachedSlices.map((s) => s.perSecond);
      const bareCpu = bareSlices.map((s) => s.cpuUs);
      const attachedCpu = attachedSlices.map((s) => s.cpuUs);
      const busy = [...bareSlices, ...attachedSlices].map((s) => s.serverBusy * 100);
      const ratio = median(attachedRates) / median(bareRates);
      const note = `min–max over ${ROUNDS} alternating ${SLICE_MS} ms slices`;
      rows.push(
        { suite: SUITE, name: `${label}: bare axios GET`, value: median(bareRates), spread: range(bareRates, 0), unit: 'calls/s', note },
        { suite: SUITE, name: `${label}: attachPolicy GET`, value: median(attachedRates), spread: range(attachedRates, 0), unit: 'calls/s', note },
        {
          suite: SUITE,
          name: `${label}: attachPolicy/bare (ratio of medians)`,
          value: ratio,
          spread: range(attachedRates.map((c, i) => c / (bareRates[i] ?? Number.NaN)), 3),
          unit: 'ratio',
          target: `>= ${RATIO_TARGET}`,
          pass: ratio >= RATIO_TARGET,
          note: 'spread: per-round ratios',
        },
        { suite: SUITE, name: `${label}: bare axios CPU`, value: median(bareCpu), spread: range(bareCpu, 0), unit: 'µs/call' },
        { suite: SUITE, name: `${label}: attachPolicy CPU`, value: median(attachedCpu), spread: range(attachedCpu, 0), unit: 'µs/call' },
        { suite: SUITE, name: `${label}: server CPU busy`, value: median(busy), spread: range(busy, 0), unit: '% of a core', note: 'near 100 means the server limits the rate' },
      );
    }
  } finally {
    await handle.detach();
    bareAgent.destroy();
    attachedAgent.destroy();
    await server.stop();
  }
  return rows;
}
