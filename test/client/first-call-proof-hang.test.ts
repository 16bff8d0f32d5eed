/**
 * A fresh JSON-RPC client's first keyed call is cut after it was sent (nothing heard yet of
 * dedup), so it now asks /health for proof before repeating. A /health that never answers (or
 * one that answers with no identity) proves nothing: the call ends with a "maybe" failure and
 * the method ran once. Real loopback server.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, isRPCException, type HotcoldClient } from 'hotcold';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function backend(health: 'hang' | 'anonymous'): Promise<{ url: string; executions(): number }> {
  let executions = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        if (health === 'hang') return;
        res.writeHead(200, { 'content-type': 'application/json', 'x-hotcold-dedup': '1' });
        res.end('{"status":"active"}');
        return;
      }
      executions++;
      if (executions === 1) {
        req.socket.destroy();
        return;
      }
      const id = (JSON.parse(body) as { id: number }).id;
      res.writeHead(200, { 'content-type': 'application/json', 'x-hotcold-node': 'a', 'x-hotcold-epoch': '1' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'again' }));
    });
  });
  server.on('connection', (s) => cleanups.push(async () => s.destroy()));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(r)));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, executions: () => executions };
}

describe("a fresh client's first keyed call, cut after it was sent", () => {
  it.each(['hang', 'anonymous'] as const)('/health %s: not repeated, a "maybe" failure', async (health) => {
    const b = await backend(health);
    const client: HotcoldClient = createClient({
      url: b.url,
      methods: { transfer: { idempotent: false } },
      breaker: false,
      deadlineMs: 4000,
      reconnect: { minDelayMs: 5, maxDelayMs: 10, probeTimeoutMs: 200 },
      maxReconnectAttempts: 2,
    });
    cleanups.push(() => client.close());
    const outcome = await client.call('transfer', {}, { idempotencyKey: 'order-1' }).catch((e: unknown) => e);
    expect(b.executions()).toBe(1);
    expect(isRPCException(outcome) && outcome.mayHaveExecuted).toBe(true);
  });
});
