/**
 * REST benchmark rows of the `client` suite (`npm run bench -- client`): `attachPolicy` on an
 * axios instance against the same bare axios instance, 1 and 64 concurrent callers, `GET` over
 * loopback to bench/rpc-server.ts (node:http in its own process; a GET gets a small JSON answer
 * with the node headers). Both are measured in the same run in alternating slices; each figure is
 * the median over the slices with its min–max, and the ratio printed is the ratio of the printed
 * medians. CPU per call is this process's `process.cpuUsage()` per completed call. Targets are
 * printed, never asserted.
 *
 * Two controls run in the same alternation: a second bare instance configured alike (control/bare
 * is an A/A ratio: 1 in truth, so its distance from 1 is this run's own measurement error), and
 * the wire floor, a bare instance whose agent puts on each request the two headers attachPolicy
 * sends (DESIGN §1): what the wire contract costs whatever the policy does. A third diagnostic,
 * the policy floor, is a bare instance whose adapter runs axios's own http adapter inside
 * `createPolicy`'s `policy.execute`: what the protocol-neutral pipeline costs a request with no
 * REST semantics at all (no routes, evidence, headers or classification): the share of the gap
 * that is not the axios adapter's.
 */
import { spawn } from 'node:child_process';
import http from 'node:http';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { loadAxios, loadCore } from './subject.js';
import type { BenchRow } from './report.js';
import { alternate, median, range, ratioRow, type Op } from './slices.js';

const { attachPolicy } = await loadAxios();
const { createPolicy } = await loadCore();

const SUITE = 'client';
const RATIO_TARGET = 0.97;
const CALLERS = [1, 64];
// 16 rounds: with 10, A/A ratios on the 2-core CI machine ranged 0.92–1.09.
const ROUNDS = 16;
const SLICE_MS = 600;


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

/**
 * An agent that puts `X-Hotcold-Attempt` and `X-Hotcold-Timeout-Ms` on each request it is
 * handed, as attachPolicy does (on the request, not through axios's headers).
 */
function wireHeaderAgent(): http.Agent {
  const agent = new http.Agent({ keepAlive: true });
  const addRequest = (agent as unknown as { addRequest: (req: http.ClientRequest, options: unknown) => void }).addRequest;
  Object.assign(agent, {
    addRequest(this: http.Agent, req: http.ClientRequest, options: unknown): void {
      req.setHeader('X-Hotcold-Attempt', '1');
      req.setHeader('X-Hotcold-Timeout-Ms', '30000'); // what is left of the call's 30 s default deadline, as attachPolicy sends it
      addRequest.call(this, req, options);
    },
  });
  return agent;
}

export async function restRows(): Promise<BenchRow[]> {
  const server = await startServerProcess();
  // Instances configured alike (own keep-alive agents): one gets the policy, two are the controls.
  const bareAgent = new http.Agent({ keepAlive: true });
  const attachedAgent = new http.Agent({ keepAlive: true });
  const controlAgent = new http.Agent({ keepAlive: true });
  const wireAgent = wireHeaderAgent();
  const floorAgent = new http.Agent({ keepAlive: true });
  const bare = axios.create({ baseURL: server.url, httpAgent: bareAgent });
  const attached = axios.create({ baseURL: server.url, httpAgent: attachedAgent });
  const control = axios.create({ baseURL: server.url, httpAgent: controlAgent });
  const wire = axios.create({ baseURL: server.url, httpAgent: wireAgent });
  const policyFloor = axios.create({ baseURL: server.url, httpAgent: floorAgent });
  const handle = attachPolicy(attached, { routes: { 'GET /accounts/:id': { timeoutMs: 5000 } } });
  // The same call options attachPolicy gives this request: its route's name and timeout, idempotent (a GET).
  const floorPolicy = createPolicy({});
  const httpAdapter = axios.getAdapter('http');
  policyFloor.defaults.adapter = (config) => floorPolicy.execute(() => httpAdapter(config), { name: 'GET /accounts/:id', idempotent: true, timeoutMs: 5000 });
  const bareCall: Op = () => bare.get('/accounts/A');
  const attachedCall: Op = () => attached.get('/accounts/A');
  const controlCall: Op = () => control.get('/accounts/A');
  const wireCall: Op = () => wire.get('/accounts/A');
  const floorCall: Op = () => policyFloor.get('/accounts/A');
  const rows: BenchRow[] = [];
  try {
    for (const callers of CALLERS) {
      const [bareSlices, attachedSlices, controlSlices, wireSlices, floorSlices] = await alternate(
        [bareCall, attachedCall, controlCall, wireCall, floorCall],
        callers,
        ROUNDS,
        SLICE_MS,
        server,
      );
      const label = `REST loopback ${callers} caller${callers === 1 ? '' : 's'}`;
      const bareRates = bareSlices.map((s) => s.perSecond);
      const attachedRates = attachedSlices.map((s) => s.perSecond);
      const bareCpu = bareSlices.map((s) => s.cpuUs);
      const attachedCpu = attachedSlices.map((s) => s.cpuUs);
      const busy = [...bareSlices, ...attachedSlices].map((s) => s.serverBusy * 100);
      const note = `min–max over ${ROUNDS} alternating ${SLICE_MS} ms slices`;
      rows.push(
        { suite: SUITE, name: `${label}: bare axios GET`, value: median(bareRates), spread: range(bareRates, 0), unit: 'calls/s', note },
        { suite: SUITE, name: `${label}: attachPolicy GET`, value: median(attachedRates), spread: range(attachedRates, 0), unit: 'calls/s', note },
        ratioRow(SUITE, `${label}: attachPolicy/bare`, attachedSlices, bareSlices, 'spread: per-round ratios', RATIO_TARGET),
        ratioRow(SUITE, `${label}: control/bare`, controlSlices, bareSlices, "A/A control: a second bare instance; its distance from 1 is this run's error"),
        ratioRow(SUITE, `${label}: wire floor/bare`, wireSlices, bareSlices, 'diagnostic: bare axios sending the two hotcold headers, no policy'),
        ratioRow(SUITE, `${label}: policy floor/bare`, floorSlices, bareSlices, "diagnostic: axios's http adapter inside createPolicy's execute, no REST semantics"),
        { suite: SUITE, name: `${label}: bare axios CPU`, value: median(bareCpu), spread: range(bareCpu, 0), unit: 'µs/call' },
        { suite: SUITE, name: `${label}: attachPolicy CPU`, value: median(attachedCpu), spread: range(attachedCpu, 0), unit: 'µs/call' },
        { suite: SUITE, name: `${label}: server CPU busy`, value: median(busy), spread: range(busy, 0), unit: '% of a core', note: 'near 100 means the server limits the rate' },
      );
    }
  } finally {
    await handle.detach();
    bareAgent.destroy();
    attachedAgent.destroy();
    controlAgent.destroy();
    wireAgent.destroy();
    floorAgent.destroy();
    await floorPolicy.close();
    await server.stop();
  }
  return rows;
}
