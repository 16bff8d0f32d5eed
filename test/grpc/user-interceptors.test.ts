/**
 * grpcInterceptor's own call object (in place of grpc-js's InterceptingCall) as a user drives
 * it: interceptors of their own above and below it, cancel(), the call's events and peer,
 * streaming calls through the same client. Real grpc-js server on loopback.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import type { GrpcInterceptor } from '../../src/grpc/index.js';
import { EchoClient, callEcho, interceptedClients, ok, stall, startEchoServer, type EchoClientInstance, type InterceptedClient } from './support.js';

const METHOD = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

const clients = interceptedClients();

function make(interceptors: (hotcold: GrpcInterceptor) => grpc.Interceptor[]): InterceptedClient {
  const options = { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, methods: { [METHOD]: { idempotent: true } } } as const;
  return clients.make(server.address, options, {}, interceptors);
}

/** Adds `x-user` metadata after a tick (as a token fetch would), and records the status it saw. */
function asyncMetadataInterceptor(seen: grpc.StatusObject[]): grpc.Interceptor {
  return (options, nextCall) =>
    new grpc.InterceptingCall(nextCall(options), {
      start(metadata, listener, next) {
        setImmediate(() => {
          metadata.set('x-user', 'alice');
          next(metadata, {
            onReceiveStatus(status, nextStatus) {
              seen.push(status);
              nextStatus(status);
            },
          });
        });
      },
    });
}

describe('user interceptors around grpcInterceptor', () => {
  it('an interceptor above it that starts the call after a tick: the call is made and answered', async () => {
    const statuses: grpc.StatusObject[] = [];
    const { client } = make((h) => [asyncMetadataInterceptor(statuses), h]);
    server.behave(ok());
    const result = await callEcho(client, { n: 1 });
    expect(result.value).toEqual({ echo: { n: 1 } });
    expect(statuses.map((s) => s.code)).toEqual([grpc.status.OK]);
  });

  it('an interceptor below it sees every attempt, each with its attempt number', async () => {
    const attempts: string[] = [];
    const below: grpc.Interceptor = (options, nextCall) =>
      new grpc.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          attempts.push(String(metadata.get('x-hotcold-attempt')[0]));
          next(metadata, listener);
        },
      });
    const { client } = make((h) => [h, below]);
    server.behave((_call, cb) => cb({ code: grpc.status.UNAVAILABLE, details: 'standby', metadata: (() => { const m = new grpc.Metadata(); m.set('x-hotcold-error', 'NOT_ACTIVE'); return m; })() }), ok());
    const result = await callEcho(client, { n: 2 });
    expect(result.value).toEqual({ echo: { n: 2 } });
    expect(attempts).toEqual(['1', '2']);
  });

  it("the call's 'metadata' and 'status' events, and getPeer() once answered", async () => {
    const { client } = make((h) => [h]);
    server.behave(ok());
    const events: string[] = [];
    const peer = await new Promise<string>((resolve, reject) => {
      const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call({ n: 3 }, (error) => {
        if (error) reject(error);
        else setImmediate(() => resolve(call.getPeer()));
      });
      call.on('metadata', (md: grpc.Metadata) => events.push(`metadata:${String(md.get('x-hotcold-node')[0])}`));
      call.on('status', (s: grpc.StatusObject) => events.push(`status:${s.code}`));
    });
    expect(events).toEqual(['metadata:node-a', 'status:0']);
    expect(peer).toMatch(/127\.0\.0\.1:\d+/);
  });

  it('getPeer() before the call has started an attempt is what grpc-js says ("unknown"), not an empty string', () => {
    const { client } = make((h) => [h]);
    server.behave(ok());
    const call = (client as unknown as { call: (r: unknown, cb: () => void) => grpc.ClientUnaryCall }).call({ n: 4 }, () => undefined);
    // Synchronously after the call is made: no attempt yet (the policy starts it on half-close).
    const peer = call.getPeer();
    call.cancel();
    expect(peer).not.toBe('');
  });

  it("the user's cancel() while the server never answers: CANCELLED, and the next call goes through", async () => {
    const { client } = make((h) => [h]);
    server.behave(stall, ok());
    const error = await new Promise<grpc.ServiceError>((resolve) => {
      const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call({ n: 5 }, (e) => resolve(e as grpc.ServiceError));
      void server.reached(1).then(() => call.cancel());
    });
    expect(error.code).toBe(grpc.status.CANCELLED);
    const next = await callEcho(client, { n: 6 });
    expect(next.value).toEqual({ echo: { n: 6 } });
  });

  it('a server-streaming call through the same client passes through, with its messages', async () => {
    const { client } = make((h) => [h]);
    const messages = await new Promise<unknown[]>((resolve, reject) => {
      const got: unknown[] = [];
      const stream = (client as unknown as { stream: (r: unknown) => grpc.ClientReadableStream<unknown> }).stream({});
      stream.on('data', (m) => got.push(m));
      stream.on('error', reject);
      stream.on('end', () => resolve(got));
    });
    expect(messages).toHaveLength(2);
  });

  it("a user's own retrying interceptor above it (re-sends the whole call once on an error)", async () => {
    const retrying: grpc.Interceptor = (options, nextCall) => {
      let savedMessage: unknown;
      let savedMetadata: grpc.Metadata;
      let retried = false;
      return new grpc.InterceptingCall(nextCall(options), {
        start(metadata, listener, next) {
          savedMetadata = metadata;
          next(metadata, {
            onReceiveStatus(status, nextStatus) {
              if (status.code === grpc.status.OK || retried) return nextStatus(status);
              retried = true;
              const again = nextCall(options);
              again.start(savedMetadata, {
                onReceiveMetadata: (md) => listener.onReceiveMetadata?.(md),
                onReceiveMessage: (m) => listener.onReceiveMessage?.(m),
                onReceiveStatus: (s) => nextStatus(s),
              });
              again.sendMessage(savedMessage);
              again.halfClose();
            },
          });
        },
        sendMessage(message, next) {
          savedMessage = message;
          next(message);
        },
      });
    };
    const { client } = make((h) => [retrying, h]);
    server.behave((_c, cb) => cb({ code: grpc.status.INVALID_ARGUMENT, details: 'no' }), ok());
    const result = await callEcho(client, { n: 7 });
    expect(result.value).toEqual({ echo: { n: 7 } });
  });
});

describe("the call's auth context", () => {
  it('getAuthContext() once answered is the transport\'s, as without the interceptor (not null)', async () => {
    server.behave(ok());
    const authOf = (client: EchoClientInstance): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall & { getAuthContext(): unknown } }).call({ n: 8 }, (error) => {
          if (error) reject(error);
          else resolve(call.getAuthContext());
        });
      });
    const bare = new EchoClient(server.address, grpc.credentials.createInsecure());
    const expected = await authOf(bare).finally(() => bare.close());
    expect(expected).not.toBeNull();
    const { client } = make((h) => [h]);
    expect(await authOf(client)).toEqual(expected);
  });
});

describe("the caller's deadline and late cancel", () => {
  it('a deadline the server never meets: DEADLINE_EXCEEDED to the caller', async () => {
    const { client } = make((h) => [h]);
    server.behave(stall);
    const result = await callEcho(client, { n: 9 }, { deadline: Date.now() + 300 });
    expect(result.error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('cancel() after the answer changes nothing, and the next call goes through', async () => {
    const { client } = make((h) => [h]);
    server.behave(ok());
    const value = await new Promise<unknown>((resolve, reject) => {
      const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null, v?: unknown) => void) => grpc.ClientUnaryCall }).call({ n: 10 }, (e, v) => {
        if (e) reject(e);
        else {
          call.cancel();
          resolve(v);
        }
      });
    });
    expect(value).toEqual({ echo: { n: 10 } });
    expect((await callEcho(client, { n: 11 })).value).toEqual({ echo: { n: 11 } });
  });
});
