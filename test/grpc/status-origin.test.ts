/**
 * grpc-js's own words for "never sent" ("No connection established…", "Waiting for LB pick") are
 * evidence only when grpc-js made the status ("Stream refused by server" never is: see
 * proxy-refused-stream.test.ts). A server that
 * ran the call and then passed on a downstream client's error (a common Node pattern:
 * `callback(downstreamError)`) sends the same words as its own Trailers-Only status: that call
 * ran, and a non-idempotent one must not be sent again.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { ECHO_METHOD, QUICK_POLICY, callEcho, interceptedClients, startEchoServer, type EchoClientInstance } from './support.js';

const server = await startEchoServer();
afterAll(() => server.close());
const clients = interceptedClients();

function strictClient(): EchoClientInstance {
  return clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } }).client;
}

describe("a server's own status in grpc-js's words (it ran the call, then a downstream failed)", () => {
  const forwarded: [string, grpc.status, string][] = [
    ['UNAVAILABLE "No connection established…"', grpc.status.UNAVAILABLE, 'No connection established. Last error: connect ECONNREFUSED 10.0.0.7:50051'],
    ['UNAVAILABLE "Stream refused by server"', grpc.status.UNAVAILABLE, 'Stream refused by server'],
    ['DEADLINE_EXCEEDED "…Waiting for LB pick"', grpc.status.DEADLINE_EXCEEDED, 'Deadline exceeded after 1.002s,LB pick: 0.001s,Waiting for LB pick'],
  ];
  for (const [name, code, details] of forwarded) {
    it(`${name}: "maybe", a non-idempotent call is executed once`, async () => {
      const client = strictClient();
      // The handler is the execution; its Trailers-Only answer quotes the downstream's error.
      server.behave((_call, callback) => callback({ code, details }));
      const result = await callEcho(client, { transfer: 1 });
      expect(server.seen).toHaveLength(1);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.mayHaveExecuted).toBe(true);
      expect(reason?.kind).toBe('unknown-outcome');
      expect(result.error?.code).toBe(code);
    });
  }
});
