/**
 * A server's "do not retry" (gRFC A6: a negative or malformed `grpc-retry-pushback-ms`) on a later
 * attempt, after an earlier attempt that may have run: the call ends there, "may have run" (the
 * earlier attempt), and the caller's final error still says the server declined a retry, whatever
 * class it was rebuilt as. A real grpc-js server.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { callEcho, interceptedClients, startEchoServer, status, type EchoClientInstance } from './support.js';

const READ = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

const clients = interceptedClients();

function client(): EchoClientInstance {
  const options = { retry: { maxAttempts: 4, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, methods: { [READ]: { idempotent: true } } } as const;
  return clients.make(server.address, options).client;
}

describe('a "do not retry" on attempt 2 after a "maybe" on attempt 1', () => {
  const second = [
    ['a standby NOT_ACTIVE (not executed)', status(grpc.status.UNAVAILABLE, 'standby', { 'x-hotcold-error': 'NOT_ACTIVE', 'grpc-retry-pushback-ms': '-1' }), 'retries-exhausted'],
    ['UNAUTHENTICATED (refused)', status(grpc.status.UNAUTHENTICATED, 'token expired', { 'grpc-retry-pushback-ms': '-1' }), 'authentication'],
  ] as const;
  for (const [what, behaviour, kind] of second) {
    it(`${what}: sent twice, may have run, and the final error keeps doNotRetry`, async () => {
      server.behave(status(grpc.status.UNAVAILABLE, 'connection dropped'), behaviour);
      const result = await callEcho(client(), { read: 1 });
      expect(server.seen).toHaveLength(2);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.kind).toBe(kind);
      expect(reason?.mayHaveExecuted).toBe(true);
      expect(reason?.doNotRetry).toBe(true);
      expect(reason?.toJSON()).toMatchObject({ doNotRetry: true, mayHaveExecuted: true });
    });
  }
});
