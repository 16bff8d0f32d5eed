/**
 * A request grpc-js could not put on the wire — over the channel's `grpc.max_send_message_length`,
 * or refused by the method's `requestSerialize` — ends with a status grpc-js makes itself
 * (RESOURCE_EXHAUSTED "Attempted to send message with a size larger than N", INTERNAL "Request
 * message serialization failure: …"). The server never had the request: "not executed", and not
 * sent again (the same request fails the same way), as axios's requests that could not be made.
 * Before, the first read as a server's answer ("ran: yes") and the second as "maybe", retried
 * for an idempotent method.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { ECHO_METHOD, QUICK_POLICY, callEcho, echoService, interceptedClients, ok, startEchoServer } from './support.js';

const server = await startEchoServer();
afterAll(() => server.close());
const clients = interceptedClients();

/** The echo method, with a request serializer that refuses `{ unserializable: true }`. */
const pickyService = {
  call: {
    ...echoService.call,
    requestSerialize: (value: unknown): Buffer => {
      if ((value as { unserializable?: unknown } | null)?.unserializable === true) throw new Error('cannot serialize this request');
      return echoService.call.requestSerialize(value);
    },
  },
};
const PickyClient = grpc.makeGenericClientConstructor(pickyService, 'Echo');

function attemptsOf(client: { interceptor: { policy: { events$: { subscribe: (f: (e: { type: string }) => void) => unknown } } } }): () => number {
  let attempts = 0;
  client.interceptor.policy.events$.subscribe((event) => {
    if (event.type === 'attempt') attempts++;
  });
  return () => attempts;
}

describe('a request grpc-js could not send', () => {
  it('over grpc.max_send_message_length: not executed, not retried, RESOURCE_EXHAUSTED as grpc-js said', async () => {
    server.behave(ok());
    const made = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: true } } }, { 'grpc.max_send_message_length': 64 });
    const attempts = attemptsOf(made);
    const { error } = await callEcho(made.client, { payload: 'x'.repeat(500) });
    const reason = rpcExceptionOf(error);
    expect(reason?.mayHaveExecuted, reason?.message).toBe(false);
    expect(reason?.kind).toBe('protocol');
    expect(error?.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(attempts()).toBe(1);
    expect(server.seen).toHaveLength(0);
  });

  it("refused by the method's requestSerialize: not executed, not retried", async () => {
    server.behave(ok());
    const interceptor = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: true } } }).interceptor;
    const client = new PickyClient(server.address, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
    clients.onCleanup(() => client.close());
    const attempts = attemptsOf({ interceptor });
    const { error } = await callEcho(client, { unserializable: true });
    const reason = rpcExceptionOf(error);
    expect(reason?.mayHaveExecuted, reason?.message).toBe(false);
    expect(reason?.kind).toBe('protocol');
    expect(error?.code).toBe(grpc.status.INTERNAL);
    expect(attempts()).toBe(1);
    expect(server.seen).toHaveLength(0);
  });

  it('a server that answers in those words ran the call: not "not executed"', async () => {
    server.behave((_call, callback) => callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Attempted to send message with a size larger than 64' }));
    const { client } = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } });
    const { error } = await callEcho(client, { n: 1 });
    expect(rpcExceptionOf(error)?.mayHaveExecuted).toBe(true);
    expect(server.seen).toHaveLength(1);
  });
});
