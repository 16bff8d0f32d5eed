/**
 * "Not executed" only on evidence, end to end (issue 8 §1, DESIGN §1–§2), with real loopback
 * servers: a node that commits and loses its connection before answering, an Envoy-like proxy
 * that then answers its own header-less 503, the dev balancer, and nodes that do or do not
 * deduplicate. The ledger (commits per Idempotency-Key) is the truth every outcome is checked
 * against.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, UnknownOutcomeException, type ClientOptions, type HotcoldClient } from 'hotcold';
import { startDevBalancer, startFaultServer, type DevBalancer, type FaultServer } from 'hotcold/testing';
import { until } from './helpers.js';

interface LedgerNode {
  url: string;
  name: string;
  epoch: number;
  /** /health says active. */
  active: boolean;
  /** Advertise X-Hotcold-Dedup and answer a repeated key from memory (like a hotcold node). */
  dedup: boolean;
  /** Cut the connection after committing, before answering (the next time only). */
  cutNext: boolean;
  /** Commits per Idempotency-Key of `transfer`. */
  commits: Map<string, number>;
  close(): Promise<void>;
}

async function startLedgerNode(name: string, epoch: number, options: Partial<Pick<LedgerNode, 'active' | 'dedup'>> = {}): Promise<LedgerNode> {
  const node = { name, epoch, active: true, dedup: false, cutNext: false, commits: new Map<string, number>(), ...options } as LedgerNode;
  const stored = new Map<string, string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const headers: Record<string, string> = { 'content-type': 'application/json', 'x-hotcold-node': node.name, 'x-hotcold-epoch': String(node.epoch) };
      if (node.dedup) headers['x-hotcold-dedup'] = '1';
      if (req.url === '/health') {
        res.writeHead(node.active ? 200 : 503, headers);
        res.end(JSON.stringify({ status: node.active ? 'active' : 'standby', node: node.name, epoch: node.epoch }));
        return;
      }
      const request = JSON.parse(body) as { id: number; method: string };
      const key = String(req.headers['idempotency-key']);
      if (!node.active) {
        res.writeHead(503, { ...headers, 'retry-after': '0' });
        res.end(JSON.stringify({ error: 'NOT_ACTIVE', status: 'standby', node: node.name }));
        return;
      }
      const answer = (result: string): void => {
        res.writeHead(200, headers);
        res.end(JSON.stringify({ jsonrpc: '2.0', id: request.id, result }));
      };
      if (request.method !== 'transfer') return answer('ok');
      if (node.dedup && stored.has(key)) return answer(stored.get(key) as string);
      node.commits.set(key, (node.commits.get(key) ?? 0) + 1); // the commit
      stored.set(key, `done by ${node.name}`);
      if (node.cutNext) {
        node.cutNext = false;
        req.socket.destroy(); // committed, and the answer is lost with the connection
        return;
      }
      answer(`done by ${node.name}`);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  node.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return node;
}

/**
 * An Envoy-like proxy: forwards every request to `upstream`; when the upstream connection breaks
 * before response headers it answers what Envoy and Istio answer — a header-less `503`
 * text/plain "upstream connect error or disconnect/reset before headers".
 */
async function startEnvoyLikeProxy(upstream: string): Promise<{ url: string; close(): Promise<void> }> {
  const target = new URL(upstream);
  const server = http.createServer((req, res) => {
    const out = http.request({ hostname: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => {
      if (res.headersSent) return void res.destroy();
      const body = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
      res.writeHead(503, { 'content-type': 'text/plain', 'content-length': String(body.length) });
      res.end(body);
    });
    req.pipe(out);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function client(url: string, options: Partial<ClientOptions> = {}): HotcoldClient {
  const c = createClient({
    url,
    retry: { maxAttempts: 6, minDelayMs: 1, maxDelayMs: 10 },
    reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 1000 },
    methods: { transfer: { idempotent: false }, balance: { idempotent: true } },
    ...options,
  });
  cleanups.push(() => c.close());
  return c;
}

const total = (node: LedgerNode): number => [...node.commits.values()].reduce((a, b) => a + b, 0);

describe("a proxy's 503 after it forwarded the call (Envoy/Istio)", () => {
  it('is "maybe": a non-idempotent transfer is not repeated, and commits exactly once', async () => {
    const node = await startLedgerNode('node-a', 1);
    cleanups.push(() => node.close());
    const proxy = await startEnvoyLikeProxy(node.url);
    cleanups.push(() => proxy.close());
    const c = client(proxy.url);
    await expect(c.call('transfer', { amount: 1 })).resolves.toBe('done by node-a');

    node.cutNext = true;
    const error = await c.call('transfer', { amount: 2 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
    expect(total(node)).toBe(2); // one commit per call, none twice
    expect([...node.commits.values()].every((n) => n === 1)).toBe(true);
  });
});

describe('a fact learned from one node is never applied to another', () => {
  async function failoverRig(bDedups: boolean): Promise<{ a: LedgerNode; b: LedgerNode; lb: DevBalancer; c: HotcoldClient }> {
    const a = await startLedgerNode('node-a', 1, { dedup: true });
    const b = await startLedgerNode('node-b', 2, { dedup: bDedups, active: false });
    cleanups.push(() => a.close(), () => b.close());
    const lb = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 30 });
    cleanups.push(() => lb.close());
    const c = client(lb.url);
    // node-a answers and advertises dedup in its term (epoch 1).
    await expect(c.call('transfer', { amount: 1 })).resolves.toBe('done by node-a');
    // node-a is gone, node-b takes over (epoch 2); the balancer switches, the client has not seen it.
    a.active = false;
    await a.close();
    b.active = true;
    await until(() => lb.current === b.url, 5000, 'the balancer to switch to node-b');
    return { a, b, lb, c };
  }

  it('node A advertised dedup, the balancer failed over to node B which does not: the maybe-failed call is not repeated on B', async () => {
    const { b, c } = await failoverRig(false);
    b.cutNext = true; // node-b commits, its connection is cut: the balancer answers 502 (maybe)
    const error = await c.call('transfer', { amount: 2 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ mayHaveExecuted: true });
    expect(total(b)).toBe(1); // not twice
  });

  it('when node B advertises dedup in its own term, the maybe-failed call is repeated safely (transparent failover)', async () => {
    const { b, c } = await failoverRig(true);
    b.cutNext = true;
    await expect(c.call('transfer', { amount: 2 })).resolves.toBe('done by node-b');
    expect(total(b)).toBe(1);
    expect(c.state).toMatchObject({ node: 'node-b', epoch: 2 });
  });

  it('serverDeduplicates: true (configured) needs no proof', async () => {
    const node = await startLedgerNode('node-a', 1, { dedup: true });
    cleanups.push(() => node.close());
    const lb = await startDevBalancer({ backends: [node.url], checkIntervalMs: 30 });
    cleanups.push(() => lb.close());
    const c = client(lb.url, { serverDeduplicates: true });
    node.cutNext = true;
    await expect(c.call('transfer', { amount: 1 })).resolves.toBe('done by node-a');
    expect(total(node)).toBe(1);
  });
});

describe("a node's own answers and the caller's time (DESIGN §1)", () => {
  let server: FaultServer;
  afterEach(async () => {
    await server?.close();
  });

  it('503 NOT_EXECUTED / EXPIRED with node headers: not executed, retried even when not idempotent', async () => {
    server = await startFaultServer({ node: 'node-a', epoch: 3 });
    server.enqueue(
      { mode: 'raw', status: 503, body: '{"error":"NOT_EXECUTED"}', headers: { 'retry-after': '0' } },
      { mode: 'raw', status: 503, body: '{"error":"EXPIRED"}' },
    );
    const c = client(server.url);
    const events: string[] = [];
    c.events$.subscribe((e) => events.push(e.type));
    await expect(c.call('transfer', { amount: 1 })).resolves.toBeDefined();
    expect(server.requests.map((r) => r.mode)).toEqual(['raw', 'raw', 'ok']);
    // The serving node is alive: no outage, no probes.
    expect(events).not.toContain('disconnected');
    expect(server.healthRequests).toBe(0);
  });

  it('500 COMMIT_UNKNOWN: maybe, a non-idempotent call is not repeated without dedup', async () => {
    server = await startFaultServer({ node: 'node-a', epoch: 3 });
    server.enqueue({ mode: 'raw', status: 500, body: '{"error":"COMMIT_UNKNOWN"}' });
    const c = client(server.url);
    const error = await c.call('transfer', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect(server.requests).toHaveLength(1);
  });

  it('every attempt carries X-Hotcold-Timeout-Ms: what is left of the call deadline, shrinking', async () => {
    server = await startFaultServer({ node: 'node-a', epoch: 3 });
    server.enqueue({ mode: 'raw', status: 503, body: '{"error":"NOT_EXECUTED"}' }, { mode: 'raw', status: 503, body: '{"error":"NOT_EXECUTED"}' });
    const c = client(server.url, { retry: { maxAttempts: 6, minDelayMs: 20, maxDelayMs: 20, jitter: 'none' } });
    await c.call('transfer', {}, { deadlineMs: 8000, timeoutMs: 3000 });
    const sent = server.requests.map((r) => Number(r.headers['x-hotcold-timeout-ms']));
    expect(sent).toHaveLength(3);
    expect(sent[0]).toBeLessThanOrEqual(8000);
    for (const ms of sent) expect(Number.isInteger(ms) && ms > 0).toBe(true);
    expect(sent[1]).toBeLessThan(sent[0] as number);
    expect(sent[2]).toBeLessThan(sent[1] as number);
  });
});
