/**
 * A custom adapter of yours (not axios's http adapter) may hand back `headers` as a plain object
 * in the server's own spelling ('X-Hotcold-Not-Forwarded'); axios makes them AxiosHeaders only
 * after the adapter returns, so attachPolicy reads the plain object. HTTP header names are
 * case-insensitive (RFC 9110 §5.1): the mark must be read whatever its case. Real loopback server.
 */
import http from 'node:http';
import axios, { type AxiosAdapter, type InternalAxiosRequestConfig } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { startScriptedServer } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** An adapter over node:http that keeps the server's header spelling (rawHeaders), as some do. */
const rawCaseAdapter: AxiosAdapter = (config: InternalAxiosRequestConfig) =>
  new Promise((resolve, reject) => {
    const url = new URL(config.url ?? '/', config.baseURL);
    const req = http.request(url, { method: (config.method ?? 'get').toUpperCase(), signal: config.signal as AbortSignal | undefined }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => {
        const headers: Record<string, string> = {};
        for (let i = 0; i < res.rawHeaders.length; i += 2) headers[res.rawHeaders[i] as string] = res.rawHeaders[i + 1] as string;
        resolve({ data: body, status: res.statusCode ?? 0, statusText: res.statusMessage ?? '', headers, config, request: req });
      });
    });
    req.on('error', reject);
    req.end(typeof config.data === 'string' ? config.data : undefined);
  });

describe('hotcold headers from a custom adapter, in the server\'s spelling', () => {
  it("a balancer's 503 with X-Hotcold-Not-Forwarded: 1 on a keyless POST is 'not executed': sent again, and it succeeds", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script(
      'POST',
      '/transfers',
      { kind: 'answer', status: 503, headers: { 'X-Hotcold-Not-Forwarded': '1' }, body: 'no server available' },
      { kind: 'answer', status: 200, headers: { 'X-Hotcold-Node': 'node-a', 'X-Hotcold-Epoch': '7' }, body: { ok: 1 } },
    );
    const api = axios.create({ baseURL: server.url, adapter: rawCaseAdapter });
    const handle = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, timeoutMs: 5000 });
    cleanups.push(() => handle.detach());
    const response = await api.post('/transfers', { amount: 1 });
    expect(response.status).toBe(200);
    expect(server.count('POST', '/transfers')).toBe(2);
  });
});
