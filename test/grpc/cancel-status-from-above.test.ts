/**
 * An interceptor above grpcInterceptor that ends the call with a status of its own
 * (`call.cancelWithStatus(code, details)`, gRFC L5: an interceptor's own timeout, an auth check
 * that gave up) gets that status to the caller, as grpc-js's InterceptingCall passes it down the
 * chain: not a CANCELLED of hotcold's. The RPCException behind it still says "cancelled by the
 * caller", and whether the call may have run. The attempt in flight is cancelled on the wire.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { ECHO_METHOD, QUICK_POLICY, callEcho, interceptedClients, stall, startEchoServer } from './support.js';

const server = await startEchoServer();
afterAll(() => server.close());
const clients = interceptedClients();

/** An interceptor that hands the test its call, to cancel from above grpcInterceptor. */
function handing(calls: grpc.InterceptingCall[]): grpc.Interceptor {
  return (options, nextCall) => {
    const call = new grpc.InterceptingCall(nextCall(options));
    calls.push(call);
    return call;
  };
}

describe('cancelWithStatus from an interceptor above', () => {
  it('the caller gets the interceptor\'s code and details; the cause is CallAborted, "maybe"', async () => {
    server.behave(stall);
    const calls: grpc.InterceptingCall[] = [];
    const { client } = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } }, {}, (hotcold) => [handing(calls), hotcold]);
    const result = callEcho(client, { n: 1 });
    await server.reached(1);
    calls[0]?.cancelWithStatus(grpc.status.DEADLINE_EXCEEDED, 'interceptor timeout');
    const { error } = await result;
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(error?.details).toBe('interceptor timeout');
    const reason = rpcExceptionOf(error);
    expect(reason?.kind).toBe('call-aborted');
    expect(reason?.mayHaveExecuted).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it("the caller's own cancel() stays CANCELLED", async () => {
    server.behave(stall);
    const { client } = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } });
    const done = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call({ n: 2 }, (e) => resolve(e));
      void server.reached(1).then(() => call.cancel());
    });
    const error = await done;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    expect(rpcExceptionOf(error)?.kind).toBe('call-aborted');
  });
});
