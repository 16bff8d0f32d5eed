/**
 * The whole call ends at the earlier of the caller's grpc-js `deadline` and the policy's (or the
 * method's) `deadlineMs` (docs/grpc.md, "Deadline"). Before, a caller's deadline replaced the
 * policy's: with `deadlineMs: 1000` and a caller's deadline 60 s away the server saw 59 986 ms
 * left, and the call (its retries, its hold while reconnecting) ran for up to 60 s. A payment
 * system's tighter bound must never be loosened by a looser one given elsewhere.
 *
 * Real grpc-js client and server on loopback; for the hold, a port nothing listens on.
 */
import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { createPolicy } from '../../src/index.js';
import { grpcInterceptor, rpcExceptionOf, type GrpcInterceptorOptions } from '../../src/grpc/index.js';
import { ECHO_METHOD, callEcho, freePort, identity, interceptedClients, ok, stall, startEchoServer, type Behaviour } from './support.js';

const HOUR = 3600 * 1000;
const server = await startEchoServer();
const clients = interceptedClients();

/** A maybe-failure with the node's identity: an idempotent call retries it (no outage, no hold). */
const unknownOnce: Behaviour = (_call, callback) => callback({ code: grpc.status.UNKNOWN, details: 'handler crashed', metadata: identity() });

const BASE = {
  retry: { maxAttempts: 50, minDelayMs: 20, maxDelayMs: 40 },
  breaker: false,
  budget: false,
  timeoutMs: 30_000,
} as const satisfies GrpcInterceptorOptions;

/** The interceptor's own policy, and one made by createPolicy and passed in (shared with other adapters). */
const policies: [string, (options: GrpcInterceptorOptions) => Parameters<typeof grpcInterceptor>[0]][] = [
  ["the interceptor's own policy", (options) => options],
  [
    'a policy passed in',
    (options) => {
      const policy = createPolicy(options);
      clients.onCleanup(() => policy.close());
      return policy;
    },
  ],
];

describe.each(policies)("the caller's deadline and deadlineMs, whichever ends first (%s)", (_label, policyOf) => {
  it("policy deadlineMs 1000, caller's deadline an hour away: every attempt is sent with at most 1000 ms, and the call ends at 1000 ms", async () => {
    const { client } = clients.make(server.address, policyOf({ ...BASE, deadlineMs: 1000, methods: { [ECHO_METHOD]: { idempotent: true } } }));
    // Attempt 1 fails "maybe" and is retried (idempotent); attempt 2 stalls until the deadline.
    server.behave(unknownOnce, stall);
    const answer = callEcho(client, { n: 1 }, { deadline: Date.now() + HOUR });
    await server.reached(2);
    for (const seen of server.seen) expect(seen.deadlineLeftMs).toBeLessThanOrEqual(1000);
    const { error } = await answer;
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const why = rpcExceptionOf(error);
    expect(why?.kind).toBe('deadline-exceeded');
    expect(why?.message).toContain('deadline of 1000 ms');
  });

  it("a method's deadlineMs 1000 under a policy's 60 s, caller's deadline an hour away: the method's wins", async () => {
    const { client } = clients.make(server.address, policyOf({ ...BASE, deadlineMs: 60_000, methods: { [ECHO_METHOD]: { idempotent: true, deadlineMs: 1000 } } }));
    server.behave(stall);
    const answer = callEcho(client, { n: 2 }, { deadline: new Date(Date.now() + HOUR) });
    await server.reached(1);
    expect(server.seen[0]?.deadlineLeftMs).toBeLessThanOrEqual(1000);
    const { error } = await answer;
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(rpcExceptionOf(error)?.message).toContain('deadline of 1000 ms');
  });

  it("the caller's deadline still wins when it ends first (1 s under a policy's hour)", async () => {
    const { client } = clients.make(server.address, policyOf({ ...BASE, deadlineMs: HOUR }));
    server.behave(stall);
    const { error } = await callEcho(client, { n: 3 }, { deadline: Date.now() + 1000 });
    expect(server.seen[0]?.deadlineLeftMs).toBeLessThanOrEqual(1000);
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(rpcExceptionOf(error)?.kind).toBe('deadline-exceeded');
  });

  it("a call held while reconnecting ends at the policy's deadlineMs, not the caller's later deadline", async () => {
    const port = await freePort();
    // Nothing listens: the first attempt is refused, the outage begins, the probe never finds
    // service, and the call waits in the hold until its deadline.
    const { client } = clients.make(
      `127.0.0.1:${port}`,
      policyOf({ ...BASE, deadlineMs: 1000, maxReconnectAttempts: Infinity, reconnect: { minDelayMs: 20, maxDelayMs: 50 }, probe: () => Promise.resolve(false) }),
    );
    // 20 s, well inside the test's time: a call that took it ends then, with that deadline named.
    const { error } = await callEcho(client, { n: 4 }, { deadline: Date.now() + 20_000 });
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const why = rpcExceptionOf(error);
    expect(why?.kind).toBe('deadline-exceeded');
    expect(why?.mayHaveExecuted).toBe(false);
    expect(why?.message).toContain('deadline of 1000 ms');
  });
});

describe('a call with no deadline of its own', () => {
  it("runs under the policy's deadlineMs (sent as grpc-timeout)", async () => {
    const { client } = clients.make(server.address, { ...BASE, deadlineMs: 1000 });
    server.behave(ok());
    const { value } = await callEcho(client, { n: 5 }, { deadline: Infinity });
    expect(value).toEqual({ echo: { n: 5 } });
    expect(server.seen[0]?.deadlineLeftMs).toBeLessThanOrEqual(1000);
  });
});
