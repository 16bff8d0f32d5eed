/**
 * gRFC A6: a server's `grpc-retry-pushback-ms` that is negative or not an integer asks the client
 * not to retry at all. That holds for every status a retry policy would repeat — a standby's
 * NOT_ACTIVE ("not executed", otherwise always sent again) and a "maybe" on an idempotent method —
 * not only for RESOURCE_EXHAUSTED; and a valid one delays whatever is retried. A real grpc-js
 * server counts what it is sent.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { ECHO_METHOD, QUICK_POLICY, callEcho, interceptedClients, ok, startEchoServer, status, type Behaviour, type EchoClientInstance } from './support.js';

const server = await startEchoServer();
afterAll(() => server.close());
const clients = interceptedClients();

function clientFor(idempotent: boolean): EchoClientInstance {
  return clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent } } }).client;
}

describe('a negative or malformed grpc-retry-pushback-ms is "do not retry" (gRFC A6), whatever the status', () => {
  for (const pushback of ['-1', 'later']) {
    it(`a standby's NOT_ACTIVE with pushback '${pushback}': sent once, "not executed", doNotRetry`, async () => {
      const client = clientFor(false);
      server.behave(status(grpc.status.UNAVAILABLE, 'standby', { 'x-hotcold-error': 'NOT_ACTIVE', 'grpc-retry-pushback-ms': pushback }));
      const result = await callEcho(client, { transfer: 1 });
      expect(server.seen).toHaveLength(1);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.doNotRetry).toBe(true);
      expect(reason?.mayHaveExecuted).toBe(false);
    });

    it(`a "maybe" UNAVAILABLE on an idempotent method with pushback '${pushback}': sent once`, async () => {
      const client = clientFor(true);
      server.behave(status(grpc.status.UNAVAILABLE, 'overloaded', { 'grpc-retry-pushback-ms': pushback }));
      const result = await callEcho(client, { read: 1 });
      expect(server.seen).toHaveLength(1);
      expect(rpcExceptionOf(result.error)?.doNotRetry).toBe(true);
    });
  }

  it('a valid pushback on a retried "maybe" (an idempotent UNAVAILABLE) delays the retry by it (gRFC A6)', async () => {
    const client = clientFor(true);
    const at: number[] = [];
    const timed =
      (behaviour: Behaviour): Behaviour =>
      (call, callback, index) => {
        at.push(performance.now());
        behaviour(call, callback, index);
      };
    server.behave(timed(status(grpc.status.UNAVAILABLE, 'overloaded', { 'grpc-retry-pushback-ms': '400' })), timed(ok()));
    const result = await callEcho(client, { read: 3 });
    expect(result.error).toBeUndefined();
    expect(at).toHaveLength(2);
    // A lower bound only (a loaded machine makes it longer, never shorter): the backoff alone is ≤ 5 ms.
    expect((at[1] as number) - (at[0] as number)).toBeGreaterThanOrEqual(390);
  });

  for (const trailers of [{}, { 'grpc-retry-pushback-ms': '1' }] as Record<string, string>[]) {
    it(`the same "maybe" ${'grpc-retry-pushback-ms' in trailers ? 'with a valid pushback' : 'without pushback'} is sent again (the rule above is what stops it)`, async () => {
      const client = clientFor(true);
      server.behave(status(grpc.status.UNAVAILABLE, 'overloaded', trailers), ok());
      const result = await callEcho(client, { read: 2 });
      expect(result.error).toBeUndefined();
      expect(server.seen).toHaveLength(2);
    });
  }
});
