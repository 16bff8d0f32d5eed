/**
 * A thundering herd of dedup-proof asks: when the connection drops with many keyed
 * non-idempotent calls in flight, each one needs proof that the node now serving deduplicates
 * before it is repeated. They share one ask per backend at a time, and each still gets the truth
 * for its own key. Counted, not timed: a real loopback server counts its /health requests (the
 * proof asks and the reconnect probes).
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, UnknownOutcomeException, type HotcoldClient } from 'hotcold';
import { until } from './helpers.js';

const CALLS = 200;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

interface Node {
  url: string;
  /** /health requests seen since `drop()`. */
  asksSinceDrop(): number;
  /** Calls executed per idempotency key (a repeat answered from the dedup record does not run). */
  executions(key: string): number;
  /** Calls waiting for an answer. */
  held(): number;
  /** Hold every call from now on (it runs, and is not answered). */
  hold(): void;
  /** The connection drops: every held call's socket is destroyed, and node b (epoch 2) serves. */
  drop(): void;
}

/** Node a (epoch 1, dedups), then node b (epoch 2) with the same store; b dedups only if `bDedups`. */
async function startNodes(bDedups: boolean): Promise<Node> {
  let serving: 'a' | 'b' = 'a';
  let holding = false;
  let asks = 0;
  const results = new Map<string, string>();
  const runs = new Map<string, number>();
  const held = new Set<Socket>();
  const headers = (): Record<string, string> =>
    serving === 'a'
      ? { 'x-hotcold-node': 'a', 'x-hotcold-epoch': '1', 'x-hotcold-dedup': '1', 'content-type': 'application/json' }
      : { 'x-hotcold-node': 'b', 'x-hotcold-epoch': '2', ...(bDedups ? { 'x-hotcold-dedup': '1' } : {}), 'content-type': 'application/json' };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        if (serving === 'b') asks++;
        res.writeHead(200, headers());
        res.end(JSON.stringify({ status: 'active', node: serving, epoch: serving === 'a' ? 1 : 2 }));
        return;
      }
      const key = String(req.headers['idempotency-key']);
      const id = (JSON.parse(body) as { id: number }).id;
      const stored = results.get(key);
      let result: string;
      if (stored !== undefined && (serving === 'a' || bDedups)) result = stored;
      else {
        result = `done:${key}`;
        results.set(key, result);
        runs.set(key, (runs.get(key) ?? 0) + 1);
      }
      if (holding) {
        held.add(req.socket);
        return;
      }
      res.writeHead(200, headers());
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    asksSinceDrop: () => asks,
    executions: (key) => runs.get(key) ?? 0,
    held: () => held.size,
    hold: () => {
      holding = true;
    },
    drop: () => {
      serving = 'b';
      holding = false;
      for (const socket of held) socket.destroy();
      held.clear();
    },
  };
}

async function herd(bDedups: boolean): Promise<{ node: Node; outcomes: unknown[]; keys: string[] }> {
  const node = await startNodes(bDedups);
  const client: HotcoldClient = createClient({
    url: node.url,
    methods: { transfer: { idempotent: false } },
    breaker: false,
    retry: { maxAttempts: 4, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 30_000 },
    deadlineMs: 120_000,
    timeoutMs: 60_000,
  });
  cleanups.push(() => client.close());
  expect(await client.call('transfer', {}, { idempotencyKey: 'warm-up' })).toBe('done:warm-up'); // learns: a dedups in term 1
  node.hold();
  const keys = Array.from({ length: CALLS }, (_, i) => `order-${i}`);
  const pending = keys.map((key) => client.call('transfer', {}, { idempotencyKey: key }).catch((e: unknown) => e));
  await until(() => node.held() === CALLS, 60_000, `${CALLS} calls in flight`);
  node.drop();
  return { node, outcomes: await Promise.all(pending), keys };
}

describe('dedup-proof asks after a drop with many keyed calls in flight', () => {
  it(`${CALLS} calls in flight when the connection drops: a few asks reach the new node, not one per call; each call gets its own result, run once`, async () => {
    const { node, outcomes, keys } = await herd(true);
    keys.forEach((key, i) => {
      expect(outcomes[i]).toBe(`done:${key}`);
      expect(node.executions(key)).toBe(1);
    });
    // One ask in flight at a time, the callers who came meanwhile sharing the next: a handful of
    // rounds (and the reconnect probes), never one per call.
    expect(node.asksSinceDrop()).toBeLessThanOrEqual(10);
  }, 120_000);

  it('the new node does not deduplicate: every call is refused its repeat (its own key ran once), still with a few asks', async () => {
    const { node, outcomes, keys } = await herd(false);
    keys.forEach((key, i) => {
      expect(outcomes[i]).toBeInstanceOf(UnknownOutcomeException);
      expect((outcomes[i] as UnknownOutcomeException).mayHaveExecuted).toBe(true);
      expect(node.executions(key)).toBe(1);
    });
    expect(node.asksSinceDrop()).toBeLessThanOrEqual(10);
  }, 120_000);
});

describe('a caller leaving a shared dedup ask', () => {
  it('does not cancel it for the others: they get their answers from the same ask, which is not aborted nor sent again', async () => {
    const NODE_A = { 'x-hotcold-node': 'a', 'x-hotcold-epoch': '1', 'x-hotcold-dedup': '1', 'content-type': 'application/json' };
    let failing = 0;
    let asks = 0;
    let abandonedAsks = 0;
    const heldHealth: http.ServerResponse[] = [];
    const results = new Map<string, string>();
    const server = http.createServer((req, res) => {
      let body = '';
      req.on('data', (d: Buffer) => (body += d.toString()));
      req.on('end', () => {
        if (req.url === '/health') {
          asks++;
          res.on('close', () => {
            if (!res.writableFinished) abandonedAsks++;
          });
          heldHealth.push(res);
          return;
        }
        const key = String(req.headers['idempotency-key']);
        const id = (JSON.parse(body) as { id: number }).id;
        if (!results.has(key)) results.set(key, `done:${key}`);
        if (failing > 0) {
          failing--;
          res.writeHead(500, NODE_A);
          res.end('{"error":"COMMIT_UNKNOWN"}');
          return;
        }
        res.writeHead(200, NODE_A);
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: results.get(key) }));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const answerHealth = (): void => {
      for (const res of heldHealth.splice(0)) {
        res.writeHead(200, NODE_A);
        res.end(JSON.stringify({ status: 'active', node: 'a', epoch: 1 }));
      }
    };
    cleanups.push(async () => {
      answerHealth();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    });
    const client: HotcoldClient = createClient({
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      methods: { transfer: { idempotent: false } },
      breaker: false,
      reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 30_000 },
      deadlineMs: 60_000,
    });
    cleanups.push(() => client.close());
    await client.call('transfer', {}, { idempotencyKey: 'warm-up' }); // learns: a dedups in term 1
    const queued = (): number =>
      (client as unknown as { pipeline: { dedupAsk: { byBackend: Map<string, { queued?: { waiting: number } }> } } }).pipeline.dedupAsk.byBackend.values().next().value?.queued
        ?.waiting ?? 0;

    failing = 4;
    const first = client.call('transfer', {}, { idempotencyKey: 'k0' }).catch((e: unknown) => e);
    await until(() => asks === 1, 10_000, 'the first ask');
    // Three more need proof while the first ask is out: they share the next one.
    const controllers = [new AbortController(), new AbortController(), new AbortController()];
    const others = controllers.map((c, i) => client.call('transfer', {}, { idempotencyKey: `k${i + 1}`, signal: c.signal }).catch((e: unknown) => e));
    await until(() => queued() === 3, 10_000, 'three callers waiting for the next ask');
    answerHealth();
    await until(() => asks === 2, 10_000, 'the shared ask');
    // One of the three leaves while the shared ask is out.
    controllers[0]?.abort();
    expect(await others[0]).toMatchObject({ kind: 'call-aborted' });
    answerHealth();
    expect(await first).toBe('done:k0');
    expect(await others[1]).toBe('done:k2');
    expect(await others[2]).toBe('done:k3');
    expect(asks).toBe(2);
    expect(abandonedAsks).toBe(0);
  }, 60_000);
});
