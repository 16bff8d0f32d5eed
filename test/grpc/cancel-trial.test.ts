/**
 * Recovery without a probe through the interceptor's own policy: a held call is released alone as
 * the outage's trial. The caller's cancel() of that trial while it is out on the wire tells
 * nothing about the server: it must not count as a failed probe (maxReconnectAttempts: 1 gave up
 * on a live server), and the next call gets the trial. The own policy hears the cancel through the
 * interceptor, not an AbortSignal of the call. Real grpc-js client and server on loopback.
 */
import * as grpc from '@grpc/grpc-js';
import { expect, it } from 'vitest';
import { grpcInterceptor, rpcExceptionOf } from '../../src/grpc/index.js';
import { ECHO_METHOD, EchoClient, callEcho, ok, stall, startEchoServer, type Behaviour } from './support.js';

/** A status with no node's identity: the path broke somewhere (a proxy's UNAVAILABLE). */
const unavailable: Behaviour = (_call, callback) => callback({ code: grpc.status.UNAVAILABLE, details: 'upstream connect error' });

it("the caller's cancel() of a trial in flight is no failed probe: the next call gets the trial, no permanent failure", async () => {
  const server = await startEchoServer();
  let permanent = 0;
  const interceptor = grpcInterceptor({
    retry: { maxAttempts: 10, minDelayMs: 1, maxDelayMs: 5 },
    breaker: false,
    budget: false,
    reconnect: { minDelayMs: 20, maxDelayMs: 20, probeTimeoutMs: 30_000 },
    deadlineMs: 60_000,
    maxReconnectAttempts: 1,
    methods: { [ECHO_METHOD]: { idempotent: true } },
    onPermanentFailure: () => permanent++,
  });
  const client = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
  try {
    // Connected first; then the call's attempt 1 fails as a lost path (the outage starts, held),
    // and attempt 2 is the trial: it stalls.
    server.behave(ok(), unavailable, stall, ok());
    expect((await callEcho(client, 'warm-up')).value).toEqual({ echo: 'warm-up' });
    let first: grpc.ClientUnaryCall | undefined;
    const cancelled = new Promise<grpc.ServiceError | null>((resolve) => {
      first = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call('first', resolve);
    });
    await server.reached(3);
    first?.cancel();
    expect((await cancelled)?.code).toBe(grpc.status.CANCELLED);

    const next = await callEcho(client, 'next');
    expect(rpcExceptionOf(next.error)?.kind).toBeUndefined();
    expect(next.value).toEqual({ echo: 'next' });
    expect(permanent).toBe(0);
    expect(interceptor.policy.state.status).toBe('connected');
  } finally {
    client.close();
    await interceptor.close();
    await server.close();
  }
}, 60_000);
