/**
 * What a user's own code around attachPolicy sees of a request's `signal` since axios's http
 * adapter gets a plain-object attempt signal (src/axios/attempt-signal.ts): their interceptors,
 * custom adapters, a retry interceptor of their own, their AbortSignal and cancelToken, timeouts,
 * a redirect, the fetch adapter, and detach() with requests in flight. Real loopback server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { AxiosError, type AxiosAdapter, type AxiosInstance, type InternalAxiosRequestConfig } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException, type AttachedPolicy, type AttachPolicyOptions } from 'hotcold/axios';
import { NODE, startScriptedServer, failure, type ScriptedServer } from './helpers.js';

const FAST: AttachPolicyOptions = {
  retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
  breaker: false,
  budget: false,
  timeoutMs: 5000,
};

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(options: AttachPolicyOptions = {}, create: Parameters<typeof axios.create>[0] = {}): Promise<{ server: ScriptedServer; api: AxiosInstance; handle: AttachedPolicy }> {
  const server = await startScriptedServer();
  cleanups.push(() => server.close());
  const api = axios.create({ baseURL: server.url, ...create });
  const handle = attachPolicy(api, { ...FAST, ...options });
  cleanups.push(() => handle.detach());
  return { server, api, handle };
}


/** Resolves once `n` requests of `method path` reached the server. */
async function reached(server: ScriptedServer, method: string, path: string, n = 1): Promise<void> {
  while (server.count(method, path) < n) await new Promise((r) => setImmediate(r));
}

describe('the signal user code sees', () => {
  it('request and response interceptors see an AbortSignal (the caller\'s), usable with AbortSignal.any and throwIfAborted', async () => {
    const { server, api } = await setup();
    server.script('GET', '/a', { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    const seen: string[] = [];
    api.interceptors.request.use((config) => {
      if (config.signal !== undefined) {
        (config.signal as AbortSignal).throwIfAborted();
        AbortSignal.any([config.signal as AbortSignal]);
        seen.push(`req:${config.signal instanceof AbortSignal}`);
      }
      return config;
    });
    api.interceptors.response.use((response) => {
      const signal = response.config.signal;
      if (signal !== undefined) {
        AbortSignal.any([signal as AbortSignal]);
        seen.push(`res:${signal instanceof AbortSignal}`);
      }
      return response;
    });
    const controller = new AbortController();
    const response = await api.get('/a', { signal: controller.signal });
    expect(response.data).toEqual({ ok: 1 });
    expect(response.config.signal).toBe(controller.signal);
    expect(seen).toEqual(['req:true', 'res:true']);
  });

  it('a custom adapter that hands config.signal to fetch gets a real AbortSignal', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('GET', '/f', { kind: 'answer', status: 200, headers: NODE, body: { ok: 2 } });
    const kinds: boolean[] = [];
    const adapter: AxiosAdapter = async (config: InternalAxiosRequestConfig) => {
      const signal = config.signal as AbortSignal;
      kinds.push(signal instanceof AbortSignal);
      signal.throwIfAborted();
      signal.addEventListener('abort', () => undefined, { once: true });
      const res = await fetch(new URL(config.url ?? '/', config.baseURL), { signal: AbortSignal.any([signal]) });
      const data: unknown = await res.json();
      return { data, status: res.status, statusText: res.statusText, headers: Object.fromEntries(res.headers), config, request: {} };
    };
    const api = axios.create({ baseURL: server.url, adapter });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    const response = await api.get('/f');
    expect(response.data).toEqual({ ok: 2 });
    expect(kinds).toEqual([true]);
  });

  it("the fetch adapter: an answer, and the caller's abort of a stalled request", async () => {
    const { server, api } = await setup({}, { adapter: 'fetch' });
    server.script('GET', '/ok', { kind: 'answer', status: 200, headers: NODE, body: { ok: 3 } });
    server.script('POST', '/stall', { kind: 'stall' });
    expect((await api.get('/ok')).data).toEqual({ ok: 3 });
    const controller = new AbortController();
    const pending = failure(api.post('/stall', { a: 1 }, { signal: controller.signal }));
    await reached(server, 'POST', '/stall');
    controller.abort();
    const error = await pending;
    expect(axios.isCancel(error) || isRPCException(error)).toBe(true);
    expect(server.count('POST', '/stall')).toBe(1);
  });
});

describe('ending a request in flight through the http adapter', () => {
  it("the caller's AbortSignal: the request is cancelled, sent once", async () => {
    const { server, api } = await setup();
    server.script('POST', '/stall', { kind: 'stall' });
    const controller = new AbortController();
    const pending = failure(api.post('/stall', { a: 1 }, { signal: controller.signal }));
    await reached(server, 'POST', '/stall');
    controller.abort(new Error('user gave up'));
    const error = await pending;
    expect(axios.isCancel(error) || isRPCException(error)).toBe(true);
    expect(server.count('POST', '/stall')).toBe(1);
  });

  it("the caller's cancelToken: the request is cancelled, sent once", async () => {
    const { server, api } = await setup();
    server.script('POST', '/stall', { kind: 'stall' });
    const source = axios.CancelToken.source();
    const pending = failure(api.post('/stall', { a: 1 }, { cancelToken: source.token }));
    await reached(server, 'POST', '/stall');
    source.cancel('bye');
    const error = await pending;
    expect(axios.isCancel(error) || isRPCException(error)).toBe(true);
    expect(server.count('POST', '/stall')).toBe(1);
  });

  it("axios's timeout on an idempotent GET: each attempt is cut and repeated, then a timeout failure", async () => {
    const { server, api } = await setup();
    server.script('GET', '/slow', { kind: 'stall' });
    const error = await failure(api.get('/slow', { timeout: 150 }));
    expect(isRPCException(error)).toBe(true);
    expect(server.count('GET', '/slow')).toBe(3);
  });

  it('detach() with a request in flight: the request ends, and the instance works again without the policy', async () => {
    const { server, api, handle } = await setup();
    server.script('POST', '/stall', { kind: 'stall' });
    server.script('GET', '/after', { kind: 'answer', status: 200, body: { ok: 4 } });
    const pending = failure(api.post('/stall', { a: 1 }));
    await reached(server, 'POST', '/stall');
    await handle.detach();
    const error = await pending;
    expect(isRPCException(error) || axios.isCancel(error)).toBe(true);
    expect((await api.get('/after')).data).toEqual({ ok: 4 });
  });

  it('a redirect is followed inside one attempt', async () => {
    const server = http.createServer((req, res) => {
      if (req.url === '/old') {
        res.writeHead(302, { location: '/new' });
        res.end();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json', ...NODE });
      res.end(JSON.stringify({ at: req.url }));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const api = axios.create({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    expect((await api.get('/old')).data).toEqual({ at: '/new' });
  });

  it("a user's own retry interceptor re-sending error.config (axios-retry style) after a 4xx", async () => {
    const { server, api } = await setup();
    server.script('PUT', '/r', { kind: 'answer', status: 409, headers: NODE, body: { e: 1 } }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 5 } });
    const signals: unknown[] = [];
    api.interceptors.response.use(undefined, (error: unknown) => {
      if (error instanceof AxiosError && error.config !== undefined && !(error.config as { retried?: boolean }).retried) {
        signals.push(error.config.signal);
        (error.config as { retried?: boolean }).retried = true;
        return api.request(error.config);
      }
      throw error;
    });
    const controller = new AbortController();
    const response = await api.put('/r', { x: 1 }, { signal: controller.signal });
    expect(response.data).toEqual({ ok: 5 });
    expect(signals).toEqual([controller.signal]);
    expect(server.count('PUT', '/r')).toBe(2);
  });
});

describe("the instance's own agent settings", () => {
  it.each([
    ['httpAgent: false (Node: no pooling)', { httpAgent: false }],
    ['httpAgent: a keep-alive agent of yours', { httpAgent: new http.Agent({ keepAlive: true }) }],
  ])('%s: requests are made, and the config keeps its own settings', async (_label, create) => {
    const { server, api } = await setup({}, create);
    server.script('GET', '/a', { kind: 'answer', status: 200, headers: NODE, body: { ok: 9 } });
    const response = await api.get('/a');
    expect(response.data).toEqual({ ok: 9 });
    expect(response.config.httpAgent).toBe(create.httpAgent);
    expect(server.count('GET', '/a')).toBe(1);
  });
});
