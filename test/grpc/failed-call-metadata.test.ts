/**
 * What the server sent reaches the caller as it would without the interceptor: a failed call's
 * response headers (initial metadata, the call's 'metadata' event) as well as its trailers.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, expect, it } from 'vitest';
import { grpcInterceptor } from '../../src/grpc/index.js';
import { EchoClient, startEchoServer } from './support.js';

const server = await startEchoServer();
afterAll(() => server.close());

interface Seen {
  headers: Record<string, unknown> | undefined;
  code: number | undefined;
  trailers: Record<string, unknown> | undefined;
}

function observe(interceptors: grpc.Interceptor[]): Promise<Seen> {
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors });
  return new Promise<Seen>((resolve) => {
    let headers: Record<string, unknown> | undefined;
    const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call(1, (error) => {
      resolve({ headers, code: error?.code, trailers: error?.metadata.getMap() });
      client.close();
    });
    call.on('metadata', (received: grpc.Metadata) => (headers = received.getMap()));
  });
}

it("an answer after response headers (NOT_FOUND): the caller's 'metadata' event carries them, as with bare grpc-js", async () => {
  server.behave((call, callback) => {
    const headers = new grpc.Metadata();
    headers.set('x-request-id', 'r-17');
    call.sendMetadata(headers);
    const trailers = new grpc.Metadata();
    trailers.set('x-reason', 'no-such-account');
    callback({ code: grpc.status.NOT_FOUND, details: 'no account', metadata: trailers });
  });
  const bare = await observe([]);
  expect(bare.headers?.['x-request-id']).toBe('r-17');
  const interceptor = grpcInterceptor({ methods: { '/test.Echo/Call': { idempotent: false } } });
  const through = await observe([interceptor]);
  await interceptor.close();
  expect(through.code).toBe(grpc.status.NOT_FOUND);
  expect(through.trailers?.['x-reason']).toBe('no-such-account');
  expect(through.headers?.['x-request-id']).toBe('r-17');
});

it('a "maybe" after response headers (UNAVAILABLE from the server): the headers reach the caller too', async () => {
  server.behave((call, callback) => {
    const headers = new grpc.Metadata();
    headers.set('x-request-id', 'r-18');
    call.sendMetadata(headers);
    callback({ code: grpc.status.UNAVAILABLE, details: 'backend went away' });
  });
  const interceptor = grpcInterceptor({ methods: { '/test.Echo/Call': { idempotent: false } } });
  const through = await observe([interceptor]);
  await interceptor.close();
  expect(server.seen).toHaveLength(1);
  expect(through.code).toBe(grpc.status.UNAVAILABLE);
  expect(through.headers?.['x-request-id']).toBe('r-18');
});
