/**
 * Recovery without a probe: a held call is released alone as the outage's trial, and its outcome
 * decides. A trial its own caller ended — aborted in flight, or before it was sent — told nothing
 * about the backend: it must not count as a failed probe (with maxReconnectAttempts: 1 that gave
 * up on a live server and failed every held call), and the next held call gets the trial.
 * Real loopback servers (a refused port, then a live one), axios requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, expect, it } from 'vitest';
import { CallAbortedException, createPolicy, type AttemptContext, type Policy } from 'hotcold';
import { until } from './support.js';

const servers: http.Server[] = [];
let policy: Policy | undefined;

afterEach(async () => {
  await policy?.close();
  policy = undefined;
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** `/hang` never answers, `/busy-once` answers 429 Retry-After: 5 the first time, anything else 200. Counts by path. */
async function startServer(): Promise<{ port: number; seen: (path: string) => number }> {
  const counts = new Map<string, number>();
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const path = req.url ?? '';
      counts.set(path, (counts.get(path) ?? 0) + 1);
      if (path === '/hang') return;
      if (path === '/busy-once' && counts.get(path) === 1) {
        res.writeHead(429, { 'retry-after': '5', 'content-type': 'application/json' });
        res.end('{"error":"busy"}');
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

/** A port with nothing listening: connecting to it is refused. */
async function deadPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

const agent = axios.create({ httpAgent: new http.Agent({ keepAlive: false }) });
/** Attempt 1 is refused (the outage starts); later attempts go to the live server's `path`. */
const call =
  (dead: number, live: number, path: string) =>
  async ({ signal, attempt }: AttemptContext): Promise<unknown> =>
    (await agent.post(`http://127.0.0.1:${attempt === 1 ? dead : live}${path}`, {}, { signal })).data;

function trialOf(p: Policy): { released: boolean } | undefined {
  return (p as unknown as { pipeline: { monitor: { trial: { released: boolean } | undefined } } }).pipeline.monitor.trial;
}

function newPolicy(onPermanentFailure: () => void): Policy {
  const p = createPolicy({
    retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 5 },
    // A trial that tells nothing within probeTimeoutMs counts as a failed one: far away here.
    reconnect: { minDelayMs: 20, maxDelayMs: 20, probeTimeoutMs: 30_000 },
    deadlineMs: 60_000,
    breaker: false,
    maxReconnectAttempts: 1,
    onPermanentFailure,
  });
  policy = p;
  return p;
}

it('a trial aborted in flight by its caller is no failed probe: the next held call gets the trial, no permanent failure', async () => {
  const dead = await deadPort();
  const live = await startServer();
  let permanent = 0;
  const p = newPolicy(() => permanent++);
  const controller = new AbortController();
  // Refused, held, released as the trial: its attempt 2 reaches the server and hangs there.
  const first = p.execute(call(dead, live.port, '/hang'), { name: 'write', signal: controller.signal }).catch((e: unknown) => e);
  await until(() => live.seen('/hang') === 1, 10_000, 'the trial in flight');
  controller.abort();
  expect(await first).toBeInstanceOf(CallAbortedException);

  // Started while the outage is on: held, and its attempt 1 is the next trial, to the live server.
  expect(p.state.status).toBe('reconnecting');
  const second = await p.execute(call(live.port, live.port, '/ok'), { name: 'read' }).catch((e: unknown) => e);
  expect(second).toEqual({ ok: true });
  expect(permanent).toBe(0);
  expect(p.state.status).toBe('connected');
}, 60_000);

it('a trial whose caller leaves before sending it (cancelled while waiting out a Retry-After) is no failed probe either', async () => {
  const dead = await deadPort();
  const live = await startServer();
  let permanent = 0;
  const p = newPolicy(() => permanent++);
  // Refused, held, its trial answered 429 Retry-After: 5 (alive, no verdict): it sleeps out the
  // pause in its retry backoff, and the outage's next trial waits for a held call.
  const paced = p.execute(call(dead, live.port, '/busy-once'), { name: 'write' }).catch((e: unknown) => e);
  await until(() => live.seen('/busy-once') === 1 && trialOf(p) !== undefined && trialOf(p)?.released === false, 10_000, 'the next trial');
  // A call started now is held and released as that trial; the backend's pause is not over, so
  // it waits for it before sending. Cancelled there, it never sends.
  const controller = new AbortController();
  const left = p.execute(call(live.port, live.port, '/never'), { name: 'write', signal: controller.signal }).catch((e: unknown) => e);
  await until(() => trialOf(p)?.released === true, 10_000, 'the trial released');
  controller.abort();
  expect(await left).toBeInstanceOf(CallAbortedException);
  expect(live.seen('/never')).toBe(0);

  // The next held call gets the trial (and sends after the pause).
  expect(p.state.status).toBe('reconnecting');
  const second = await p.execute(call(live.port, live.port, '/ok'), { name: 'read' }).catch((e: unknown) => e);
  expect(second).toEqual({ ok: true });
  expect(await paced).toEqual({ ok: true });
  expect(permanent).toBe(0);
  expect(p.state.status).toBe('connected');
}, 60_000);
