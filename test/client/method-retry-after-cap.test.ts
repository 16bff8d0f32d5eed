/**
 * A method's own `retry.maxRetryAfterMs` caps how long its calls wait out a server's 429 pause,
 * as `methods.<name>.retry` promises ("per-method overrides of the retry options"). Before, the
 * call's retry delay was capped by the method's value but the attempt then waited for the
 * backend's "not before" time, which only the client-wide cap bounded: a method capped at 300 ms
 * waited the server's whole 2 s (or failed at once with DeadlineExceeded when its deadline was
 * shorter than the pause). Other calls still wait out the pause (the client's cap).
 *
 * Real loopback HTTP server answering `POST /rpc` 429 `Retry-After: 2` once, then results.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import axios from 'axios';
import { createClient, type HotcoldClient } from 'hotcold';
import { attachPolicy } from 'hotcold/axios';

/** Timers may fire a few ms early and the two clocks are read at slightly different points. */
const SLACK_MS = 25;

interface Arrival {
  at: number;
  status: number;
}

async function startServer(first429: number): Promise<{ url: string; arrivals: Arrival[]; close(): Promise<void> }> {
  const arrivals: Arrival[] = [];
  let refusals = first429;
  const server = http.createServer((req, res) => {
    const arrival: Arrival = { at: performance.now(), status: 0 };
    if (req.url === '/health') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"status":"active","node":"node-a","epoch":1}');
      return;
    }
    arrivals.push(arrival);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      if (refusals > 0) {
        refusals--;
        arrival.status = 429;
        res.writeHead(429, { 'content-type': 'text/plain', 'retry-after': '2' });
        res.end('Too Many Requests');
        return;
      }
      arrival.status = 200;
      const id = req.url === '/rpc' ? (JSON.parse(body) as { id: number }).id : undefined;
      res.writeHead(200, { 'content-type': 'application/json', 'x-hotcold-node': 'node-a', 'x-hotcold-epoch': '1' });
      res.end(id === undefined ? '{"ok":true}' : JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    arrivals,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe("a method's retry.maxRetryAfterMs caps its wait for the backend's 429 pause", () => {
  it('JSON-RPC client: the capped method retries after its cap, within a deadline shorter than the pause; another method waits the pause', async () => {
    const server = await startServer(1);
    cleanups.push(() => server.close());
    const client: HotcoldClient = createClient({
      url: server.url,
      retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 },
      breaker: false,
      budget: false,
      methods: { transfer: { retry: { maxRetryAfterMs: 300 }, deadlineMs: 1500 } },
    });
    cleanups.push(() => client.close());
    await expect(client.call('transfer', { n: 1 })).resolves.toBe('ok');
    const [refused, retried] = server.arrivals;
    expect(refused?.status).toBe(429);
    expect(retried?.at).toBeGreaterThanOrEqual((refused?.at ?? 0) + 300 - SLACK_MS);
    // The backend's pause still holds for a method without a cap of its own (the client's 10 s).
    await expect(client.call('balance', {})).resolves.toBe('ok');
    expect(server.arrivals.at(-1)?.at).toBeGreaterThanOrEqual((refused?.at ?? 0) + 2000 - SLACK_MS);
  });

  it("REST: a route's retry.maxRetryAfterMs does the same", async () => {
    const server = await startServer(1);
    cleanups.push(() => server.close());
    const api = axios.create({ baseURL: server.url });
    const handle = attachPolicy(api, {
      retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 },
      breaker: false,
      budget: false,
      routes: { 'GET /quotes': { retry: { maxRetryAfterMs: 300 }, deadlineMs: 1500 } },
    });
    cleanups.push(() => handle.detach());
    await expect(api.get('/quotes')).resolves.toMatchObject({ status: 200 });
    const [refused, retried] = server.arrivals;
    expect(refused?.status).toBe(429);
    expect(retried?.at).toBeGreaterThanOrEqual((refused?.at ?? 0) + 300 - SLACK_MS);
  });
});
