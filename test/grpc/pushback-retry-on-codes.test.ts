/**
 * gRFC A6's canonical pushback case: a status the method's retry policy retries
 * (`retryableStatusCodes`, here `retryOnCodes`) sent with a valid `grpc-retry-pushback-ms` is
 * retried after the pushback, not after the backoff. An application answer (RemoteCall) opted in
 * by `retryOnCodes` is "a status that is retried" like any other. A real grpc-js server.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultClassify, RemoteCallException } from '../../src/index.js';
import { callEcho, interceptedClients, ok, startEchoServer, status } from './support.js';

const TRANSFER = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

const clients = interceptedClients();

describe('a valid pushback on a status retried by retryOnCodes delays the retry (gRFC A6)', () => {
  it('ABORTED opted in by retryOnCodes, with grpc-retry-pushback-ms 400: the retry waits 400 ms, not the backoff', async () => {
    const { interceptor, client } = clients.make(server.address, {
      retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
      breaker: false,
      budget: false,
      methods: { [TRANSFER]: { idempotent: false, retryOnCodes: [grpc.status.ABORTED] } },
    });
    const retries: { delayMs: number }[] = [];
    const sub = interceptor.policy.events$.subscribe((e) => {
      if (e.type === 'retry') retries.push({ delayMs: e.delayMs });
    });
    server.behave(status(grpc.status.ABORTED, 'conflict', { 'grpc-retry-pushback-ms': '400' }), ok());
    const result = await callEcho(client, { transfer: 1 });
    sub.unsubscribe();
    expect(result.error).toBeUndefined();
    expect(server.seen).toHaveLength(2);
    expect(retries).toEqual([{ delayMs: 400 }]);
  });

  it("the default classifier's RemoteCall for a grpc-js status carries the pushback as retryAfterMs", () => {
    const error = Object.assign(new Error('10 ABORTED: conflict'), {
      code: grpc.status.ABORTED,
      details: 'conflict',
      metadata: { get: (key: string) => (key === 'grpc-retry-pushback-ms' ? ['400'] : []) },
    });
    const classified = defaultClassify(error, { name: 'm', attempt: 1, backend: 'b', written: undefined });
    expect(classified).toBeInstanceOf(RemoteCallException);
    expect((classified as RemoteCallException & { retryAfterMs?: number }).retryAfterMs).toBe(400);
    expect(classified.toJSON()).toMatchObject({ retryAfterMs: 400 });
  });
});
