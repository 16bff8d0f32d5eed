/**
 * A call its caller ends is no evidence about the backend: an ask for dedup proof the caller
 * aborted is not a failed ask (no outage announced, nothing proven either way).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CallAbortedException, createClient, DeadlineExceededException, type HotcoldClient } from 'hotcold';
import { record, until } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const NODE_A = { 'x-hotcold-node': 'a', 'x-hotcold-epoch': '1', 'x-hotcold-dedup': '1', 'content-type': 'application/json' };

/** Node a (epoch 1, dedups); `failNext` answers the next call COMMIT_UNKNOWN; /health hangs while `holdHealth`. */
async function startNode(): Promise<{ url: string; healthAsks: () => number; failNext: () => void; holdHealth: (hold: boolean) => void }> {
  let failNext = false;
  let hold = false;
  let asks = 0;
  const held: http.ServerResponse[] = [];
  const answerHealth = (res: http.ServerResponse): void => {
    res.writeHead(200, NODE_A);
    res.end(JSON.stringify({ status: 'active', node: 'a', epoch: 1 }));
  };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        asks++;
        if (hold) held.push(res);
        else answerHealth(res);
        return;
      }
      const id = (JSON.parse(body) as { id: number }).id;
      if (failNext) {
        failNext = false;
        res.writeHead(500, NODE_A);
        res.end('{"error":"COMMIT_UNKNOWN"}');
        return;
      }
      res.writeHead(200, NODE_A);
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'a' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const res of held.splice(0)) answerHealth(res);
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    healthAsks: () => asks,
    failNext: () => {
      failNext = true;
    },
    holdHealth: (h) => {
      hold = h;
      if (!h) for (const res of held.splice(0)) answerHealth(res);
    },
  };
}

describe("the caller's own abort is no evidence about the backend", () => {
  it('a dedup-proof ask aborted by its caller announces no outage: state stays connected, no disconnected, no failover', async () => {
    const node = await startNode();
    const client: HotcoldClient = createClient({ url: node.url, methods: { transfer: { idempotent: false } }, breaker: false });
    cleanups.push(() => client.close());
    await client.call('transfer', {}); // learns: a dedups in term 1
    const events = record(client.events$);
    const failovers: unknown[] = [];
    const sub = client.failover$.subscribe((e) => failovers.push(e));
    cleanups.push(async () => sub.unsubscribe());

    node.holdHealth(true);
    node.failNext();
    const controller = new AbortController();
    const outcome = client.call('transfer', {}, { idempotencyKey: 'order-1', signal: controller.signal }).catch((e: unknown) => e);
    await until(() => node.healthAsks() >= 1, 10_000, 'the proof ask');
    const asksBefore = node.healthAsks();
    controller.abort();
    expect(await outcome).toBeInstanceOf(CallAbortedException);

    expect(events.of('disconnected')).toEqual([]);
    expect(client.state.status).toBe('connected');
    expect(failovers).toEqual([]);
    // No probe started either: the only /health the server saw was the proof ask.
    node.holdHealth(false);
    expect(await client.call('transfer', {})).toBe('a');
    expect(node.healthAsks()).toBe(asksBefore);
    expect(events.of('disconnected')).toEqual([]);
  });

  it('a dedup-proof ask cut short by its caller\'s own deadline (before the ask\'s probeTimeoutMs) announces no outage either', async () => {
    const node = await startNode();
    const client: HotcoldClient = createClient({
      url: node.url,
      methods: { transfer: { idempotent: false } },
      breaker: false,
      reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 60_000 },
    });
    cleanups.push(() => client.close());
    await client.call('transfer', {}); // learns: a dedups in term 1
    const events = record(client.events$);

    node.holdHealth(true);
    node.failNext();
    const outcome = await client.call('transfer', {}, { idempotencyKey: 'order-2', deadlineMs: 3000 }).catch((e: unknown) => e);
    expect(outcome).toBeInstanceOf(DeadlineExceededException);
    expect((outcome as DeadlineExceededException).mayHaveExecuted).toBe(true);
    expect(node.healthAsks()).toBe(1);
    expect(events.of('disconnected')).toEqual([]);
    expect(client.state.status).toBe('connected');
  });
});
