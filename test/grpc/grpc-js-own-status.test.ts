/**
 * Statuses grpc-js makes itself for a call that never reached a server's handler ("No
 * connection established", the deadline while waiting for an LB pick) read as "not executed",
 * also when grpc-js's own retries (a service config's retryPolicy) ran first: grpc-js then adds
 * `grpc-previous-rpc-attempts` to the status's metadata, which is not metadata off the wire.
 * "Stream refused by server" (HTTP/2 REFUSED_STREAM) is no such evidence: an HTTP/2 proxy sends
 * it after the node it forwarded the call to broke (proxy-refused-stream.test.ts), and the client
 * cannot tell the proxy's reset from the server's own: "maybe".
 */
import * as grpc from '@grpc/grpc-js';
import http2 from 'node:http2';
import { describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { QUICK_POLICY, callEcho, freePort, interceptedClients, type EchoClientInstance } from './support.js';

const METHOD = '/test.Echo/Call';

/** grpc-js's own retries for UNAVAILABLE (a service config's retryPolicy). */
const GRPC_JS_RETRIES = JSON.stringify({
  methodConfig: [
    {
      name: [{ service: 'test.Echo' }],
      retryPolicy: { maxAttempts: 2, initialBackoff: '0.01s', maxBackoff: '0.01s', backoffMultiplier: 1, retryableStatusCodes: ['UNAVAILABLE'] },
    },
  ],
});

const clients = interceptedClients();

function client(address: string, channelOptions: grpc.ChannelOptions = {}): EchoClientInstance {
  const options = { ...QUICK_POLICY, retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 5 }, maxReconnectAttempts: 1, deadlineMs: 5_000, methods: { [METHOD]: { idempotent: false } } };
  return clients.make(address, options, channelOptions).client;
}

/** A raw HTTP/2 server refusing every stream (RST_STREAM REFUSED_STREAM, RFC 9113 §8.7). */
async function refusingServer(): Promise<{ address: string; streams: () => number }> {
  let streams = 0;
  const server = http2.createServer();
  server.on('stream', (stream) => {
    streams++;
    // grpc-js's RST_STREAM answer to it surfaces as the stream's error here: expected.
    stream.on('error', () => undefined);
    stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  clients.onCleanup(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { address: `127.0.0.1:${(server.address() as { port: number }).port}`, streams: () => streams };
}

/** What the failure says (shown when an assertion fails). */
function lastCauseText(error: grpc.ServiceError | undefined): string {
  const reason = rpcExceptionOf(error);
  return `${String(reason?.kind)} ${String(reason?.message)}`;
}

describe("grpc-js's own statuses: the call never ran", () => {
  for (const [label, channelOptions] of [
    ['no grpc-js retries', {}],
    ["grpc-js's own retries (service config)", { 'grpc.service_config': GRPC_JS_RETRIES }],
  ] as const) {
    it(`"No connection established" (${label}): not executed`, async () => {
      const result = await callEcho(client(`127.0.0.1:${await freePort()}`, channelOptions), { n: 1 });
      const reason = rpcExceptionOf(result.error);
      expect(reason?.mayHaveExecuted, lastCauseText(result.error)).toBe(false);
    });

    it(`"Stream refused by server" (${label}): "maybe" (a proxy sends it too), not sent again`, async () => {
      const server = await refusingServer();
      const result = await callEcho(client(server.address, channelOptions), { n: 1 });
      expect(server.streams()).toBeGreaterThan(0);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.mayHaveExecuted, lastCauseText(result.error)).toBe(true);
      expect(reason?.kind, lastCauseText(result.error)).toBe('unknown-outcome');
    });
  }
});
