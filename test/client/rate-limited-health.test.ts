/**
 * A live server that rate-limits its health check (429 + Retry-After) while calls are held. The
 * 429 was read as "no service": a failed probe, which announced the outage, counted toward
 * `maxReconnectAttempts` and so gave up on a server that was up — every held call then failed
 * with RetriesExhausted('reconnect'). The same for the trial call of a policy without a probe,
 * and for the dedup proof's ask, which started an announced outage for every caller. A 429 is
 * back-pressure (DESIGN §2): the probe, trial or ask waits out the pause and asks again, counting
 * nothing. Real loopback servers; each answer is scripted by arrival order.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, createPolicy, type PolicyEvent } from 'hotcold';

type Answer = 'ok' | '429' | 'reset' | 'not-active';

interface ScriptedNode {
  url: string;
  /** Answers to POST /rpc in arrival order; 'ok' once empty. */
  rpc: Answer[];
  /** Answers to GET /health in arrival order; 'ok' once empty. */
  health: Answer[];
  /** Executions per `ref` param. */
  executed: Map<string, number>;
  healthAsked: () => number;
  /** When set, every request sent as attempt 1 (`X-Hotcold-Attempt: 1`) gets this answer. */
  firstAttempts?: Answer | undefined;
}

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

const NODE_HEADERS = { 'x-hotcold-node': 'node-a', 'x-hotcold-epoch': '1', 'x-hotcold-dedup': '1' };

async function startNode(): Promise<ScriptedNode> {
  let healthAsked = 0;
  const node: ScriptedNode = { url: '', rpc: [], health: [], executed: new Map(), healthAsked: () => healthAsked };
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const isHealth = req.url === '/health';
      if (isHealth) healthAsked++;
      const first = !isHealth && node.firstAttempts !== undefined && req.headers['x-hotcold-attempt'] === '1';
      const answer = (first ? node.firstAttempts : isHealth ? node.health.shift() : node.rpc.shift()) ?? 'ok';
      if (answer === '429') {
        res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
        res.end('slow down');
        return;
      }
      if (answer === 'reset') {
        req.socket.destroy(); // read in full, not executed: the client cannot tell ("maybe")
        return;
      }
      if (answer === 'not-active') {
        res.writeHead(503, { ...NODE_HEADERS, 'content-type': 'application/json' });
        res.end('{"error":"NOT_ACTIVE"}');
        return;
      }
      if (isHealth) {
        res.writeHead(200, { ...NODE_HEADERS, 'content-type': 'application/json' });
        res.end('{"status":"active","node":"node-a","epoch":1}');
        return;
      }
      let id: unknown = null;
      let ref: string | undefined;
      try {
        const parsed = JSON.parse(body) as { id?: unknown; params?: { ref?: string } };
        id = parsed.id ?? null;
        ref = parsed.params?.ref;
      } catch {
        // a REST body
      }
      const key = ref ?? req.headers['idempotency-key']?.toString() ?? '';
      const seen = node.executed.get(key) ?? 0;
      if (seen === 0) node.executed.set(key, 1); // deduplicates by key, as it advertises
      res.writeHead(200, { ...NODE_HEADERS, 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  node.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return node;
}

function recordEvents(events$: { subscribe(next: (e: PolicyEvent) => void): { unsubscribe(): void } }): PolicyEvent[] {
  const seen: PolicyEvent[] = [];
  const subscription = events$.subscribe((e) => seen.push(e));
  cleanups.push(() => subscription.unsubscribe());
  return seen;
}

const CALLS = 100;

describe('a 429 from a live server while calls are held is back-pressure, not a failed probe', () => {
  it('createClient: health probes answered 429 do not give up (maxReconnectAttempts) nor announce the outage', async () => {
    const node = await startNode();
    const client = createClient({
      url: node.url,
      retry: { maxAttempts: 8, minDelayMs: 5, maxDelayMs: 50 },
      reconnect: { minDelayMs: 10, maxDelayMs: 50, probeTimeoutMs: 5000 },
      maxReconnectAttempts: 2,
      budget: false,
      methods: { balance: { idempotent: true } },
    });
    cleanups.push(() => client.close());
    const events = recordEvents(client.events$);
    await client.call('balance', { ref: 'warm-up' });
    // The connection is cut once (a suspected outage); the probes then meet the rate limit three
    // times, more than maxReconnectAttempts, before the health check answers.
    node.rpc.push('reset');
    node.health.push('429', '429', '429');
    const first = client.call('balance', { ref: 'first' });
    const others = Array.from({ length: CALLS }, (_, i) => client.call('balance', { ref: `b${i}` }));
    const outcomes = await Promise.allSettled([first, ...others]);
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect(failed.map((f) => (f.reason as Error).message)).toEqual([]);
    expect(node.healthAsked()).toBeGreaterThanOrEqual(4);
    expect(events.filter((e) => e.type === 'permanent-failure')).toEqual([]);
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    expect(client.state.status).toBe('connected');
  }, 60_000);

  it('createPolicy without a probe: trial calls answered 429 do not give up on the server', async () => {
    const node = await startNode();
    const api = axios.create({ baseURL: node.url, httpAgent: new http.Agent({ keepAlive: true }) });
    const policy = createPolicy({
      retry: { maxAttempts: 8, minDelayMs: 5, maxDelayMs: 50 },
      reconnect: { minDelayMs: 10, maxDelayMs: 50, probeTimeoutMs: 5000 },
      maxReconnectAttempts: 2,
      budget: false,
      methods: { balance: { idempotent: true } },
    });
    cleanups.push(() => policy.close());
    const events = recordEvents(policy.events$);
    // Every call's first attempt meets the node saying it is not active (an outage: calls are
    // held, one at a time is tried); the first three later attempts (the trials) meet the rate limit.
    node.firstAttempts = 'not-active';
    node.rpc.push('429', '429', '429');
    const outcomes = await Promise.allSettled(
      Array.from({ length: CALLS }, (_, i) =>
        policy.execute(({ signal, attempt }) => api.post('/rpc', { ref: `p${i}` }, { signal, headers: { 'x-hotcold-attempt': String(attempt) } }), { name: 'balance' }),
      ),
    );
    const failed = outcomes.filter((o) => o.status === 'rejected');
    expect(failed.map((f) => (f.reason as Error).message)).toEqual([]);
    expect(events.filter((e) => e.type === 'permanent-failure')).toEqual([]);
    expect(policy.state.status).toBe('connected');
  }, 60_000);

  it("the dedup proof's ask answered 429 waits and asks again: no outage announced, the call runs once", async () => {
    const node = await startNode();
    const client = createClient({
      url: node.url,
      retry: { maxAttempts: 8, minDelayMs: 5, maxDelayMs: 50 },
      reconnect: { minDelayMs: 10, maxDelayMs: 50, probeTimeoutMs: 5000 },
      budget: false,
      methods: { transfer: { idempotent: false } },
    });
    cleanups.push(() => client.close());
    const events = recordEvents(client.events$);
    await client.call('transfer', { ref: 'warm-up' }); // the node advertises dedup in its term
    // A transfer is cut after it was sent (it may have run): its repeat needs the node's word that
    // it deduplicates. The probe of the cut path finds the node; the proof's ask meets the rate limit.
    node.rpc.push('reset');
    node.health.push('ok', '429');
    await expect(client.call('transfer', { ref: 't1' })).resolves.toBe('ok');
    expect(node.executed.get('t1')).toBe(1);
    expect(node.healthAsked()).toBeGreaterThanOrEqual(3);
    expect(events.filter((e) => e.type === 'disconnected')).toEqual([]);
    expect(events.filter((e) => e.type === 'permanent-failure')).toEqual([]);
  }, 60_000);
});
