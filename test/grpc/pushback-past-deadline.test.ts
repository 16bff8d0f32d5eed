/**
 * A valid pushback on a retried "maybe" that the call's deadline cannot wait out: the call ends
 * at once with DeadlineExceeded ("may have run"), without sleeping into its deadline; a pushback
 * above `retry.maxRetryAfterMs` waits the cap. The evidence is the retry event's delay and the
 * error's message, not the clock. A real grpc-js server.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { callEcho, interceptedClients, ok, startEchoServer, status, type EchoClientInstance } from './support.js';

const READ = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

const clients = interceptedClients();

function setup(maxRetryAfterMs: number): { client: EchoClientInstance; delays: number[] } {
  const { interceptor, client } = clients.make(server.address, {
    retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs },
    deadlineMs: 60_000,
    breaker: false,
    budget: false,
    methods: { [READ]: { idempotent: true } },
  });
  const delays: number[] = [];
  interceptor.policy.events$.subscribe((e) => {
    if (e.type === 'retry') delays.push(e.delayMs);
  });
  return { client, delays };
}

it('a pushback longer than what is left of the deadline ends the call at once with DeadlineExceeded', async () => {
  const { client, delays } = setup(120_000);
  server.behave(status(grpc.status.UNAVAILABLE, 'overloaded', { 'grpc-retry-pushback-ms': '90000' }), ok());
  const result = await callEcho(client, { read: 1 }, { deadline: Date.now() + 5_000 });
  expect(server.seen).toHaveLength(1);
  expect(delays).toEqual([]);
  const reason = rpcExceptionOf(result.error);
  expect(reason?.kind).toBe('deadline-exceeded');
  expect(reason?.message).toMatch(/would pass during the 90000 ms wait/);
  expect(reason?.mayHaveExecuted).toBe(true);
});

it('a pushback above retry.maxRetryAfterMs waits the cap', async () => {
  const { client, delays } = setup(50);
  server.behave(status(grpc.status.UNAVAILABLE, 'overloaded', { 'grpc-retry-pushback-ms': '9999999999' }), ok());
  const result = await callEcho(client, { read: 1 });
  expect(result.error).toBeUndefined();
  expect(server.seen).toHaveLength(2);
  expect(delays).toEqual([50]);
});
