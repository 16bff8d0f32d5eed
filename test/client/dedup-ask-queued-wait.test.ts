/**
 * A caller of the shared dedup-proof ask that joins the round queued behind the ask in flight
 * waits for ITS round's answer: the ask it needs is sent only when the one in flight settles, and
 * gets the whole probeTimeoutMs from then. Its wait was timed from joining instead, bounded by
 * probeTimeoutMs: a caller queued behind a slow (but answered) ask timed out while its own ask
 * was still within its bound, read that as "unreachable" and announced an outage (reconnecting,
 * probes) on a live backend that answered every ask. Real loopback server; the test answers the
 * held /health requests itself (lower bounds only).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createClient, type HotcoldClient } from 'hotcold';
import { delay, until } from './helpers.js';

const PROBE_TIMEOUT_MS = 4000;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

it('a caller queued behind a slow ask waits for its own round, and no outage is announced', async () => {
  const NODE_A = { 'x-hotcold-node': 'a', 'x-hotcold-epoch': '1', 'x-hotcold-dedup': '1', 'content-type': 'application/json' };
  let failing = 0;
  let asks = 0;
  /** From the end of the scenario on, /health answers at once (the probes of an outage, if one was announced). */
  let answerAtOnce = false;
  const heldHealth: http.ServerResponse[] = [];
  const results = new Map<string, string>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        asks++;
        heldHealth.push(res);
        if (answerAtOnce) answerHealth();
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
  function answerHealth(): void {
    for (const res of heldHealth.splice(0)) {
      res.writeHead(200, NODE_A);
      res.end(JSON.stringify({ status: 'active', node: 'a', epoch: 1 }));
    }
  }
  cleanups.push(async () => {
    answerHealth();
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });
  const client: HotcoldClient = createClient({
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    methods: { transfer: { idempotent: false } },
    breaker: false,
    reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: PROBE_TIMEOUT_MS },
    deadlineMs: 60_000,
  });
  cleanups.push(() => client.close());
  await client.call('transfer', {}, { idempotencyKey: 'warm-up' }); // learns: a dedups in term 1
  const statuses: string[] = [];
  const subscription = client.state$.subscribe((s) => statuses.push(s.status));
  cleanups.push(async () => subscription.unsubscribe());
  const queued = (): number =>
    (client as unknown as { pipeline: { dedupAsk: { byBackend: Map<string, { queued?: { waiting: number } }> } } }).pipeline.dedupAsk.byBackend.values().next().value?.queued
      ?.waiting ?? 0;

  failing = 2;
  const first = client.call('transfer', {}, { idempotencyKey: 'k-first' }).catch((e: unknown) => e);
  await until(() => asks === 1, 10_000, 'the first ask');
  const second = client.call('transfer', {}, { idempotencyKey: 'k-second' }).catch((e: unknown) => e);
  await until(() => queued() === 1, 10_000, 'the second caller queued behind the first ask');
  const joinedAt = performance.now();
  // The first ask answers well within its bound; the second caller's round is sent only then.
  await delay(PROBE_TIMEOUT_MS / 2);
  answerHealth();
  await until(() => asks === 2, 10_000, "the second caller's round");
  // Answered within ITS bound (sent half a probeTimeoutMs ago), but after a probeTimeoutMs since the caller joined.
  while (performance.now() - joinedAt < PROBE_TIMEOUT_MS * 1.25) await delay(50);
  answerAtOnce = true;
  answerHealth();
  expect(await first).toBe('done:k-first');
  expect(await second).toBe('done:k-second');
  // No outage was announced, no probe sent: the backend answered every ask.
  expect(statuses.filter((s) => s !== 'connected')).toEqual([]);
  expect(asks).toBe(2);
}, 60_000);
