/**
 * An attempt cut short by its own call's deadline (its timeout was what was left of the deadline)
 * says nothing about the backend: the breaker does not count it as a failure, and a trial of an
 * outage without a probe cut so is no failed probe. Real loopback servers, axios requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, expect, it } from 'vitest';
import { DeadlineExceededException, createPolicy, type AttemptContext, type Policy, type PolicyEvent } from 'hotcold';
import { until } from './support.js';

const servers: http.Server[] = [];
const held: http.ServerResponse[] = [];
let policy: Policy | undefined;

afterEach(async () => {
  await policy?.close();
  policy = undefined;
  for (const res of held.splice(0)) res.end('{"ok":true}');
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** `/hang` is answered only after the test (held), anything else 200. Counts by path. */
async function startServer(): Promise<{ port: number; seen: (path: string) => number }> {
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      counts.set(path, (counts.get(path) ?? 0) + 1);
      if (path === '/hang') {
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { port: (server.address() as AddressInfo).port, seen: (path) => counts.get(path) ?? 0 };
}

async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const agent = axios.create({ httpAgent: new http.Agent({ keepAlive: false }) });
const call =
  (first: number, later: number, path: string) =>
  async ({ signal, attempt }: AttemptContext): Promise<unknown> =>
    (await agent.post(`http://127.0.0.1:${attempt === 1 ? first : later}${path}`, {}, { signal })).data;

it("attempts cut short by their calls' own deadline do not open the breaker of a backend that is alive", async () => {
  const live = await startServer();
  const events: PolicyEvent[] = [];
  const p = createPolicy({
    retry: { maxAttempts: 1 },
    timeoutMs: 60_000,
    breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000 },
  });
  policy = p;
  const sub = p.events$.subscribe((e) => events.push(e));
  // Callers with a tight deadline of their own; the server answers them only later.
  const tight = Array.from({ length: 6 }, () => p.execute(call(live.port, live.port, '/hang'), { name: 'read', idempotent: true, deadlineMs: 200 }).catch((e: unknown) => e));
  for (const outcome of await Promise.all(tight)) expect(outcome).toBeInstanceOf(DeadlineExceededException);

  expect(events.filter((e) => e.type === 'breaker-open')).toEqual([]);
  expect(await p.execute(call(live.port, live.port, '/ok'), { name: 'read', idempotent: true })).toEqual({ ok: true });
  sub.unsubscribe();
}, 60_000);

it('a trial cut short by its own deadline is no failed probe: the next held call gets the trial, no permanent failure', async () => {
  const dead = await deadPort();
  const live = await startServer();
  let permanent = 0;
  const p = createPolicy({
    retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: { minDelayMs: 20, maxDelayMs: 20, probeTimeoutMs: 30_000 },
    timeoutMs: 60_000,
    breaker: false,
    maxReconnectAttempts: 1,
    onPermanentFailure: () => permanent++,
  });
  policy = p;
  // Refused, held, released as the trial: it reaches the server, which answers only later; the
  // call's own deadline ends it first.
  const first = await p.execute(call(dead, live.port, '/hang'), { name: 'write', deadlineMs: 3000 }).catch((e: unknown) => e);
  expect(first).toBeInstanceOf(DeadlineExceededException);
  await until(() => live.seen('/hang') === 1, 10_000, 'the trial sent');

  expect(p.state.status).toBe('reconnecting');
  const second = await p.execute(call(live.port, live.port, '/ok'), { name: 'read' }).catch((e: unknown) => e);
  expect(second).toEqual({ ok: true });
  expect(permanent).toBe(0);
  expect(p.state.status).toBe('connected');
}, 60_000);
