/**
 * Attempts per logical call through a crash failover (issue 8 §3): two `hotcold node` processes
 * behind the dev balancer, 200 hotcold callers and 200 callers of a naive wrapper (p-retry with
 * 10 retries + opossum around axios.post, the same Idempotency-Key on every try) under load at the
 * same time, SIGKILL of the hot node, and per implementation:
 *
 *   - the calls of the failover window: in flight at the crash or started before that
 *     implementation's first success on the new node;
 *   - HTTP attempts (POST /rpc sent) per window call, counted at the client's axios;
 *   - failed calls in the window;
 *   - hotcold's health probes (GET /health) per client.
 *
 * Two layouts: the 200 hotcold callers on ONE client, and on 200 clients (one caller each). The
 * naive callers share one wrapper in the first and have one each in the second.
 *
 * Targets: hotcold ≤ 2.0 attempts per call on average and ≤ the naive wrapper in the same run,
 * 0 failed calls.
 */
import { spawn as spawnChild } from 'node:child_process';
import http from 'node:http';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import axios, { type AxiosInstance } from 'axios';
import CircuitBreaker from 'opossum';
import pRetry, { AbortError } from 'p-retry';
import { createClient } from '../src/client/create-client.js';
import { isRPCException, RetriesExhaustedException } from '../src/errors.js';
import type { HotcoldClient } from '../src/client/types.js';
import type { RunDatabase } from '../src/cli/demo/database.js';
import { spawnNodeProcess, type NodeProcess } from '../src/cli/demo/node-process.js';
import { monotonicNow } from '../src/shared/clock.js';
import { sleep } from '../src/shared/sleep.js';

export type Layout = 'one-client' | 'per-caller-clients';

export interface ImplFigures {
  /** Calls in the failover window. */
  windowCalls: number;
  /** Mean HTTP attempts per window call. */
  meanAttempts: number;
  maxAttempts: number;
  /** Failed calls in the window (and in the whole run). */
  failedInWindow: number;
  failedTotal: number;
  /** Failed calls of the whole run by error kind. */
  failuresByKind: Record<string, number>;
  /** Crash → first success on the new node, ms. */
  firstSuccessMs: number;
  /** GET /health per client over the run (hotcold only). */
  probesPerClient?: number;
}

export interface AttemptsRun {
  layout: Layout;
  /** The machine's 1-minute load average at the crash (the figures mean little on a busy box). */
  loadAverage: number;
  hotcold: ImplFigures;
  naive: ImplFigures;
}

interface CallRecord {
  key: string;
  startedAt: number;
  endedAt: number;
  ok: boolean;
  /** The error's kind (and RetriesExhausted reason) when the call failed. */
  failure?: string | undefined;
}

/** Counts POST attempts per Idempotency-Key, health probes, and the node of each successful answer. */
class Counter {
  readonly attempts = new Map<string, number>();
  readonly okNode = new Map<string, string>();
  probes = 0;

  instrument(instance: AxiosInstance): AxiosInstance {
    instance.interceptors.request.use((config) => {
      if ((config.method ?? 'get').toLowerCase() === 'post') {
        const key = String(config.headers.get('Idempotency-Key') ?? '');
        this.attempts.set(key, (this.attempts.get(key) ?? 0) + 1);
      } else {
        this.probes += 1;
      }
      return config;
    });
    instance.interceptors.response.use((response) => {
      const key = response.config.headers.get('Idempotency-Key');
      const node: unknown = response.headers['x-hotcold-node'];
      if (response.status === 200 && typeof key === 'string' && typeof node === 'string') this.okNode.set(key, node);
      return response;
    });
    return instance;
  }
}

type CallFn = (key: string, params: unknown) => Promise<unknown>;

/**
 * The hotcold client with the library's defaults (timeoutMs 5000, retry 8 × 50–2000 ms, breaker
 * whenOpen 'wait', reconnect probes 50–250 ms), over an instrumented axios instance.
 */
function hotcoldClient(url: string, instance: AxiosInstance): HotcoldClient {
  return createClient({
    url,
    axios: instance,
    methods: { transfer: { idempotent: false } },
    // The ledger node deduplicates by Idempotency-Key. Said up front, because with 200 clients on
    // a loaded box many have not had an answer (which advertises it) when the crash comes; the
    // naive wrapper retries everything anyway.
    serverDeduplicates: true,
  });
}

/** The naive wrapper: p-retry (10 retries, its default backoff) around opossum around axios.post. */
function naiveWrapper(url: string, instance: AxiosInstance): { call: CallFn; close: () => void } {
  let id = 0;
  const breaker = new CircuitBreaker(
    async (key: string, params: unknown) => {
      const response = await instance.post(`${url}/rpc`, { jsonrpc: '2.0', id: ++id, method: 'transfer', params }, { headers: { 'Idempotency-Key': key }, timeout: 5000 });
      return response.data as { result?: unknown; error?: { message?: string } };
    },
    // axios times out first (5 s, like hotcold's timeoutMs); opossum's own timeout only backs it up.
    { timeout: 10_000, errorThresholdPercentage: 50, resetTimeout: 1000 },
  );
  const call: CallFn = (key, params) =>
    pRetry(
      async () => {
        const body = await breaker.fire(key, params);
        if (body.error !== undefined) throw new AbortError(body.error.message ?? 'rpc error');
        return body.result;
      },
      { retries: 10 },
    );
  return { call, close: () => breaker.shutdown() };
}

function agentAxios(): { instance: AxiosInstance; agent: http.Agent } {
  const agent = new http.Agent({ keepAlive: true });
  return { instance: axios.create({ httpAgent: agent }), agent };
}

/** Callers making keyed `transfer` calls back to back until stopped. */
function startCallers(calls: readonly CallFn[], prefix: string): { records: CallRecord[]; stop: () => Promise<void> } {
  const records: CallRecord[] = [];
  let stopping = false;
  const loop = async (index: number, call: CallFn): Promise<void> => {
    for (let seq = 0; !stopping; seq++) {
      const key = `${prefix}-${index}-${seq}`;
      const startedAt = monotonicNow();
      let ok = true;
      let failure: string | undefined;
      try {
        await call(key, { from: `${prefix}${index}-savings`, to: `${prefix}${index}-checking`, amount: 1, ref: key });
      } catch (error) {
        ok = false;
        failure = isRPCException(error) ? `${error.kind}${error instanceof RetriesExhaustedException ? `(${error.reason})` : ''}` : 'other';
      }
      records.push({ key, startedAt, endedAt: monotonicNow(), ok, failure });
      await (ok ? new Promise<void>((resolve) => setImmediate(resolve)) : sleep(50));
    }
  };
  const done = Promise.all(calls.map((call, i) => loop(i, call)));
  return {
    records,
    stop: async () => {
      stopping = true;
      await done;
    },
  };
}

function figures(records: readonly CallRecord[], counter: Counter, crashAt: number, newNode: string, clients?: number): ImplFigures {
  const firstOk = Math.min(...records.filter((r) => r.ok && r.endedAt >= crashAt && counter.okNode.get(r.key) === newNode).map((r) => r.endedAt));
  const window = records.filter((r) => r.endedAt >= crashAt && r.startedAt <= firstOk);
  const attempts = window.map((r) => counter.attempts.get(r.key) ?? 0);
  const out: ImplFigures = {
    windowCalls: window.length,
    meanAttempts: attempts.reduce((a, b) => a + b, 0) / Math.max(1, attempts.length),
    maxAttempts: Math.max(0, ...attempts),
    failedInWindow: window.filter((r) => !r.ok).length,
    failedTotal: records.filter((r) => !r.ok).length,
    failuresByKind: records.reduce<Record<string, number>>((acc, r) => {
      if (!r.ok) acc[r.failure ?? 'other'] = (acc[r.failure ?? 'other'] ?? 0) + 1;
      return acc;
    }, {}),
    firstSuccessMs: firstOk - crashAt,
  };
  if (clients !== undefined) out.probesPerClient = counter.probes / clients;
  return out;
}

/** The dev balancer in a child process (its own event loop, like a real balancer). */
async function startBalancerProcess(backends: readonly string[], checkIntervalMs: number): Promise<{ url: string; stop: () => Promise<void> }> {
  const script = fileURLToPath(new URL('./dev-balancer-process.ts', import.meta.url));
  const child = spawnChild(process.execPath, ['--import', 'tsx', script, String(checkIntervalMs), ...backends], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let buffer = '';
    child.stdout.on('data', (chunk: Buffer) => {
      buffer += chunk.toString();
      const line = buffer.split('\n')[0];
      if (buffer.includes('\n') && line !== undefined) resolve((JSON.parse(line) as { url: string }).url);
    });
    child.once('exit', (code) => reject(new Error(`dev balancer exited (${code})`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function activeNode(nodes: readonly NodeProcess[]): Promise<NodeProcess | undefined> {
  for (const node of nodes) {
    if (node.child.hasExited()) continue;
    if ((await node.health(300))?.status === 200) return node;
  }
  return undefined;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const until = monotonicNow() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (monotonicNow() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export interface AttemptsOptions {
  db: RunDatabase;
  layout: Layout;
  callers: number;
  updateIntervalMs: number;
  waitIntervalMs: number;
  checkIntervalMs: number;
}

/** One crash failover with hotcold and the naive wrapper under load side by side. */
export async function attemptsRun(options: AttemptsOptions): Promise<AttemptsRun> {
  const cleanups: Array<() => Promise<void> | void> = [];
  try {
    const spawn = async (machine: string): Promise<NodeProcess> => {
      const node = await spawnNodeProcess({ machine, db: options.db.url, updateIntervalMs: options.updateIntervalMs, waitIntervalMs: options.waitIntervalMs });
      cleanups.push(() => node.child.stop({ signal: 'SIGKILL' }));
      return node;
    };
    const a = await spawn('node-a');
    await waitFor('node-a to hold the lease', () => activeNode([a]), 15_000);
    const b = await spawn('node-b');
    const nodes = [a, b];
    const balancer = await startBalancerProcess(nodes.map((n) => n.url), options.checkIntervalMs);
    cleanups.push(() => balancer.stop());
    const probe = axios.create({ validateStatus: () => true, timeout: 500 });
    await waitFor('the balancer', async () => ((await probe.get(`${balancer.url}/health`).catch(() => undefined))?.status === 200 ? true : undefined), 10_000);

    const hotCounter = new Counter();
    const naiveCounter = new Counter();
    const hotClients: HotcoldClient[] = [];
    const hotCalls: CallFn[] = [];
    const naiveCalls: CallFn[] = [];
    const shared = options.layout === 'one-client';
    for (let i = 0; i < options.callers; i++) {
      if (shared && i > 0) {
        hotCalls.push(hotCalls[0] as CallFn);
        naiveCalls.push(naiveCalls[0] as CallFn);
        continue;
      }
      const hot = agentAxios();
      const client = hotcoldClient(balancer.url, hotCounter.instrument(hot.instance));
      hotClients.push(client);
      cleanups.push(async () => {
        await client.close();
        hot.agent.destroy();
      });
      hotCalls.push((key, params) => client.call('transfer', params, { idempotencyKey: key }));
      const plain = agentAxios();
      const naive = naiveWrapper(balancer.url, naiveCounter.instrument(plain.instance));
      cleanups.push(() => {
        naive.close();
        plain.agent.destroy();
      });
      naiveCalls.push(naive.call);
    }

    const hotLoad = startCallers(hotCalls, 'h');
    const naiveLoad = startCallers(naiveCalls, 'n');
    cleanups.push(async () => {
      await Promise.all([hotLoad.stop(), naiveLoad.stop()]);
    });
    await sleep(1500);
    const hot = await waitFor('the hot node', () => activeNode(nodes), 5000);
    const standby = nodes.find((n) => n !== hot) as NodeProcess;
    const crashAt = monotonicNow();
    const loadAverage = os.loadavg()[0] ?? Number.NaN;
    hot.child.signal('SIGKILL');
    await waitFor(`${standby.machine} to take over`, () => activeNode([standby]), 15_000);
    await sleep(1500);
    await Promise.all([hotLoad.stop(), naiveLoad.stop()]);
    return {
      layout: options.layout,
      loadAverage,
      hotcold: figures(hotLoad.records, hotCounter, crashAt, standby.machine, hotClients.length),
      naive: figures(naiveLoad.records, naiveCounter, crashAt, standby.machine),
    };
  } finally {
    for (const cleanup of cleanups.reverse()) {
      try {
        await cleanup();
      } catch {
        // best effort: the next cleanup still runs
      }
    }
  }
}
