/**
 * Recovery without a probe: held calls go out one at a time as trials, and the first answer ends
 * the outage. A 401/403 is an answer from a live server (the breaker counts it as one): a trial
 * answered so must end the outage, not count as a failed probe — or a server that is back but
 * refuses one caller's calls would keep every other call held, and with `maxReconnectAttempts`
 * drive the policy to a permanent failure while it answers. Real loopback server, axios requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, expect, it } from 'vitest';
import { AuthenticationException, createPolicy, type AttemptContext, type Policy } from 'hotcold';
import { until } from './support.js';

let server: http.Server | undefined;
let policy: Policy | undefined;

afterEach(async () => {
  await policy?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

async function listen(port: number): Promise<number> {
  server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(req.url === '/admin' ? 403 : 200, { 'content-type': 'application/json' });
      res.end(req.url === '/admin' ? '{"error":"forbidden"}' : '{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server?.listen(port, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

it('a trial answered 401/403 ends the outage: no permanent failure while the server answers, and other held calls go out', async () => {
  // A port with nothing listening: the calls are refused, an outage starts.
  const port = await listen(0);
  await new Promise<void>((resolve) => server?.close(() => resolve()));
  server = undefined;
  const agent = axios.create({ httpAgent: new http.Agent({ keepAlive: false }) });
  const call = (path: string) => async ({ signal }: AttemptContext): Promise<unknown> => (await agent.post(`http://127.0.0.1:${port}${path}`, {}, { signal })).data;

  let permanent = 0;
  const p = createPolicy({
    retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: { minDelayMs: 50, maxDelayMs: 50 },
    breaker: false,
    maxReconnectAttempts: 4,
    onPermanentFailure: () => permanent++,
  });
  policy = p;
  const forbidden = Array.from({ length: 6 }, () => p.execute(call('/admin'), { name: 'admin' }).catch((e: unknown) => e));
  await until(() => p.state.status === 'reconnecting', 10_000, 'the outage');
  await until(() => (p as unknown as { pipeline: { monitor: { pending: number } } }).pipeline.monitor.pending >= 5, 10_000, 'the calls to be held');
  // The server is back. Only the calls of a caller without the right permission are held: each
  // trial is answered 403.
  await listen(port);
  const read = p.execute(call('/read'), { name: 'read' }).catch((e: unknown) => e);

  for (const outcome of await Promise.all(forbidden)) expect(outcome).toBeInstanceOf(AuthenticationException);
  expect(await read).toEqual({ ok: true });
  expect(permanent).toBe(0);
  expect(p.state.status).toBe('connected');
}, 40_000);
