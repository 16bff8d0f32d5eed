/**
 * The first keyed "maybe" request of a fresh attachPolicy (nothing heard yet of whether the
 * deployment deduplicates) now asks `healthPath` for proof before repeating: against a /health
 * that hangs, one that names another node, a deployment that never deduplicates, and requests
 * that carry no key. Real loopback server; what counts is how often the POST reached it.
 */
import axios, { type AxiosInstance } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException, type AttachPolicyOptions } from 'hotcold/axios';
import { NODE, startScriptedServer, failure, type ScriptedServer } from './helpers.js';

const BASE: AttachPolicyOptions = {
  retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
  reconnect: { minDelayMs: 5, maxDelayMs: 10, probeTimeoutMs: 200 },
  maxReconnectAttempts: 2,
  breaker: false,
  budget: false,
  timeoutMs: 5000,
  deadlineMs: 4000,
  healthPath: '/health',
};

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(options: AttachPolicyOptions = {}): Promise<{ server: ScriptedServer; api: AxiosInstance }> {
  const server = await startScriptedServer();
  cleanups.push(() => server.close());
  const api = axios.create({ baseURL: server.url });
  const handle = attachPolicy(api, { ...BASE, ...options });
  cleanups.push(() => handle.detach());
  return { server, api };
}


function mayHaveRun(error: unknown): boolean | undefined {
  return isRPCException(error) ? error.mayHaveExecuted : undefined;
}

describe("a fresh client's first keyed POST cut after it was sent", () => {
  it('a /health that never answers: the call ends (not repeated), "maybe"', async () => {
    const { server, api } = await setup({ idempotencyKeys: true });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'stall' });
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(server.count('POST', '/transfers')).toBe(1);
    expect(mayHaveRun(error)).toBe(true);
  });

  it('a deployment that never deduplicates (healthy /health without the header): sent once, its own "maybe" failure', async () => {
    const { server, api } = await setup({ idempotencyKeys: true });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'answer', status: 200, headers: NODE, body: { status: 'active' } });
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(server.count('POST', '/transfers')).toBe(1);
    expect(mayHaveRun(error)).toBe(true);
  });

  it('a /health without any identity headers: not proof, sent once', async () => {
    const { server, api } = await setup({ idempotencyKeys: true });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'answer', status: 200, body: { status: 'active' } });
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(server.count('POST', '/transfers')).toBe(1);
    expect(mayHaveRun(error)).toBe(true);
  });

  it('a /health that advertises dedup with a "1" but as a 503 standby: not proof, sent once', async () => {
    const { server, api } = await setup({ idempotencyKeys: true });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'answer', status: 503, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: { status: 'standby' } });
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(server.count('POST', '/transfers')).toBe(1);
    expect(mayHaveRun(error)).toBe(true);
  });

  it('a node that proves dedup on /health: repeated once with the same key', async () => {
    const { server, api } = await setup({ idempotencyKeys: true });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 200, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'answer', status: 200, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: { status: 'active' } });
    const response = await api.post('/transfers', { amount: 1 });
    expect(response.data).toEqual({ ok: 1 });
    const posts = server.seen.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(2);
    expect(posts[1]?.headers['idempotency-key']).toBe(posts[0]?.headers['idempotency-key']);
  });
});

describe('requests without a key are never proven (nothing can deduplicate them)', () => {
  it('idempotencyKeys off, a POST: /health is not even asked, sent once', async () => {
    const { server, api } = await setup({ idempotencyKeys: false });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'answer', status: 200, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: { status: 'active' } });
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(server.count('POST', '/transfers')).toBe(1);
    expect(mayHaveRun(error)).toBe(true);
  });

  it('a route declared non-idempotent, PUT without a key, on a deployment that proves dedup: sent once', async () => {
    const { server, api } = await setup({ idempotencyKeys: false, routes: { 'PUT /accounts/:id': { idempotent: false } } });
    server.script('PUT', '/accounts/7', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    server.script('GET', '/health', { kind: 'answer', status: 200, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: { status: 'active' } });
    const error = await failure(api.put('/accounts/7', { amount: 1 }));
    expect(server.count('PUT', '/accounts/7')).toBe(1);
    expect(mayHaveRun(error)).toBe(true);
  });
});
