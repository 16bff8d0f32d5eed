/**
 * Back-pressure and the whole-call deadline: a call paced by one 429's Retry-After must not
 * outlive its deadline when another 429, answered while it waits, pushes the backend's "not
 * before" time further out (docs/policy.md: "No backoff sleep, hold or breaker wait outlives the
 * deadline"). Real loopback server; the test decides when each held request is answered.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, expect, it } from 'vitest';
import { DeadlineExceededException, createPolicy, type AttemptContext, type Policy } from 'hotcold';
import { until } from './support.js';

interface Held {
  id: string;
  res: http.ServerResponse;
}

let server: http.Server | undefined;
let policy: Policy | undefined;

afterEach(async () => {
  await policy?.close();
  server?.closeAllConnections();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
});

it("a call waiting out one 429's Retry-After ends at its deadline when another 429 moves the pause past it", async () => {
  const held: Held[] = [];
  const seen: string[] = [];
  server = http.createServer((req, res) => {
    const id = String(req.headers['x-call']);
    seen.push(id);
    req.resume();
    req.on('end', () => {
      if (id === 'paced') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"ok":true}');
        return;
      }
      held.push({ id, res });
    });
  });
  await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/rpc`;
  const agent = axios.create({ httpAgent: new http.Agent({ keepAlive: false }) });
  const send = (id: string) => async ({ signal }: AttemptContext): Promise<unknown> => (await agent.post(url, {}, { signal, headers: { 'x-call': id } })).data;

  policy = createPolicy({
    // A server may ask for a long pause; the cap allows it here, so only the deadline bounds the wait.
    retry: { maxRetryAfterMs: 3_600_000 },
    methods: { first: { retry: false }, second: { retry: false } },
  });
  const first = policy.execute(send('first'), { name: 'first' }).catch((e: unknown) => e);
  const second = policy.execute(send('second'), { name: 'second' }).catch((e: unknown) => e);
  await until(() => held.length === 2, 10_000, 'both requests to be held by the server');

  const answer = (id: string, retryAfter: string): void => {
    const entry = held.find((h) => h.id === id);
    entry?.res.writeHead(429, { 'retry-after': retryAfter, 'content-type': 'text/plain' });
    entry?.res.end('slow down');
  };
  // The first 429 asks for 2 s of quiet: a call with a 4 s deadline may wait that out.
  answer('first', '2');
  await first;
  let settled = false;
  const paced = policy.execute(send('paced'), { name: 'paced', deadlineMs: 4000 }).then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  void paced.then(() => (settled = true));
  // While it waits, the second 429 asks for an hour.
  answer('second', '3600');
  await second;

  // Liveness, not timing: the paced call must end at all (its deadline is 4 s; the pause is an hour).
  await until(() => settled, 20_000, 'the paced call to end at its deadline');
  const outcome = await paced;
  expect('error' in outcome ? outcome.error : outcome).toBeInstanceOf(DeadlineExceededException);
  expect((outcome as { error: DeadlineExceededException }).error.mayHaveExecuted).toBe(false);
  expect(seen).not.toContain('paced'); // nothing was sent into the pause
}, 40_000);
