/**
 * grpcInterceptor with its own policy (the interceptor's registry times the attempts and ends them
 * at the policy's close()), against a real grpc-js server on loopback: how each way of ending a
 * call leaves it — judged by what reached the server and what the caller was told.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { PolicyOptions } from '../../src/index.js';
import { grpcInterceptor, rpcExceptionOf, type GrpcInterceptor } from '../../src/grpc/index.js';
import { EchoClient, callEcho, ok, stall, startEchoServer, type EchoClientInstance } from './support.js';

const METHOD = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

const open: Array<{ interceptors: GrpcInterceptor[]; client: EchoClientInstance }> = [];
afterEach(async () => {
  for (const { interceptors, client } of open.splice(0)) {
    client.close();
    for (const interceptor of interceptors) await interceptor.close();
  }
});

function own(options: PolicyOptions = {}): GrpcInterceptor {
  return grpcInterceptor({
    retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
    breaker: false,
    budget: false,
    methods: { [METHOD]: { idempotent: false } },
    ...options,
  });
}

function clientWith(...interceptors: GrpcInterceptor[]): EchoClientInstance {
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors });
  open.push({ interceptors, client });
  return client;
}

/**
 * One answered call first, so the channel is connected: on a loaded machine a new channel's
 * connection alone can outlast a short deadline, and then nothing is sent at all. (The next
 * `behave` clears what the server has seen.)
 */
async function connected(client: EchoClientInstance): Promise<void> {
  server.behave(ok());
  expect((await callEcho(client, { warm: true })).value).toBeDefined();
}

describe("the interceptor's own policy", () => {
  it('close() with many calls out: each fails client-closed, "may have run", none sent again', async () => {
    const interceptor = own({ timeoutMs: 60_000 });
    const client = clientWith(interceptor);
    server.behave(stall);
    const calls = Array.from({ length: 24 }, (_, i) => callEcho(client, { i }));
    await server.reached(24);
    await interceptor.close();
    const results = await Promise.all(calls);
    for (const result of results) {
      expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
      expect(rpcExceptionOf(result.error)?.kind).toBe('client-closed');
      expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
    }
    expect(server.seen).toHaveLength(24);
    const after = await callEcho(client, { late: true });
    expect(rpcExceptionOf(after.error)?.kind).toBe('client-closed');
    expect(rpcExceptionOf(after.error)?.mayHaveExecuted).toBe(false);
    expect(server.seen).toHaveLength(24);
  });

  it("a caller's deadline shorter than the attempt timeout: DEADLINE_EXCEEDED, may have run, sent once", async () => {
    const client = clientWith(own({ timeoutMs: 60_000 }));
    await connected(client);
    server.behave(stall);
    const result = await callEcho(client, 1, { deadline: Date.now() + 1000 });
    expect(result.error).toBeDefined();
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted ?? true).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it('the attempt timeout on a call the server holds: "maybe", a non-idempotent call is not sent again', async () => {
    const client = clientWith(own({ timeoutMs: 1000 }));
    await connected(client);
    server.behave(stall);
    const result = await callEcho(client, 1);
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it('two interceptors with their own policies on one client: answered; closing the inner one ends the call "may have run", the outer does not send it again', async () => {
    const outer = own({ timeoutMs: 60_000 });
    const inner = own({ timeoutMs: 60_000 });
    const client = clientWith(outer, inner);
    server.behave(ok());
    expect((await callEcho(client, { a: 1 })).value).toEqual({ echo: { a: 1 } });
    server.behave(stall);
    const pending = callEcho(client, { b: 2 });
    await server.reached(1);
    await inner.close();
    const result = await pending;
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it("the caller's cancel() with many calls out, then close(): every call answered once, the next interceptor's calls unaffected", async () => {
    const interceptor = own({ timeoutMs: 60_000 });
    const client = clientWith(interceptor);
    server.behave(stall);
    const calls: Array<grpc.ClientUnaryCall> = [];
    const results: Array<Promise<grpc.ServiceError | null>> = [];
    for (let i = 0; i < 8; i++) {
      results.push(
        new Promise((resolve) => {
          calls.push(
            (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call({ i }, (e) => resolve(e)),
          );
        }),
      );
    }
    await server.reached(8);
    for (const call of calls.slice(0, 4)) call.cancel();
    await interceptor.close();
    const errors = await Promise.all(results);
    expect(errors.slice(0, 4).map((e) => e?.code)).toEqual(Array(4).fill(grpc.status.CANCELLED));
    for (const e of errors.slice(4)) expect(rpcExceptionOf(e ?? undefined)?.mayHaveExecuted).toBe(true);
    expect(server.seen).toHaveLength(8);
    const other = clientWith(own());
    server.behave(ok());
    expect((await callEcho(other, 'x')).value).toEqual({ echo: 'x' });
  });
});
