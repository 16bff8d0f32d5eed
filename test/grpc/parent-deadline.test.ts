/**
 * A grpc-js call made for a server call (`{ parent: call }`) with DEADLINE propagation
 * (`propagate_flags` with `grpc.propagate.DEADLINE`, grpc-js's default with a parent) inherits
 * its parent's deadline, and the interceptor's call ends at the earlier of it, the call's own
 * `deadline` and the policy's (or method's) `deadlineMs` (docs/grpc.md, "Deadline precedence").
 * Before, the interceptor read only the `deadline` option: the policy's deadlineMs ran the call.
 * grpc-js still cut each attempt at the parent's deadline, but the policy went on retrying the
 * attempts grpc-js ended at once (the call ended as retries exhausted, not deadline exceeded),
 * and a call held while reconnecting waited for the policy's 20 s after its parent had given up.
 *
 * Real grpc-js: a client calls a front server with a deadline; the front's handler calls a
 * second server (stalling, or nothing listening) through the interceptor with `parent`.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { createPolicy } from '../../src/index.js';
import { grpcInterceptor, rpcExceptionOf, type GrpcInterceptorOptions } from '../../src/grpc/index.js';
import { ECHO_METHOD, EchoClient, callEcho, freePort, interceptedClients, startEchoServer, stall, type EchoClientInstance, type EchoServer } from './support.js';

const backend = await startEchoServer();
const front = await startEchoServer();
const clients = interceptedClients();
afterAll(async () => {
  await backend.close();
  await front.close();
});

const PARENT_MS = 400;

const BASE = {
  retry: { maxAttempts: 50, minDelayMs: 20, maxDelayMs: 40 },
  breaker: false,
  budget: false,
  timeoutMs: 20_000,
  deadlineMs: 20_000,
  methods: { [ECHO_METHOD]: { idempotent: true } },
} as const satisfies GrpcInterceptorOptions;

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

interface Inner {
  code: number | undefined;
  kind: string | undefined;
  message: string | undefined;
  /** The deadline the RPCException names ("deadline of N ms"). */
  deadlineMs: number | undefined;
  mayHaveExecuted: boolean | undefined;
}

/**
 * Calls `front` with a deadline `PARENT_MS` away; its handler calls through `inner` with
 * `{ parent: call, ...options }` and the promise resolves with how that inner call ended.
 */
function throughFront(inner: EchoClientInstance, options: Omit<grpc.CallOptions, 'parent'> = {}): Promise<Inner> {
  return new Promise((resolve) => {
    front.behave((call, callback) => {
      void callEcho(inner, { via: 'front' }, { ...options, parent: call }).then(({ error }) => {
        const why = rpcExceptionOf(error);
        const named = why === undefined ? undefined : /deadline of (\d+) ms/.exec(why.message)?.[1];
        resolve({ code: error?.code, kind: why?.kind, message: why?.message, deadlineMs: named === undefined ? undefined : Number(named), mayHaveExecuted: why?.mayHaveExecuted });
        callback(error ?? null, { done: true });
      });
    });
    const outer = new EchoClient(front.address, grpc.credentials.createInsecure());
    clients.onCleanup(() => outer.close());
    void callEcho(outer, { n: 1 }, { deadline: Date.now() + PARENT_MS });
  });
}

/**
 * The call ended at its parent's deadline. With CANCELLATION propagated too (grpc-js's default),
 * the parent's own cancel at that deadline (its client gives up then, and its server call is
 * cancelled) may come first: the call then ends as cancelled by its parent (parent-cancel.test.ts).
 */
function expectParentDeadline(inner: Inner, cancellation: boolean): void {
  if (cancellation && inner.kind === 'call-aborted') {
    expect(inner.code, inner.message).toBe(grpc.status.CANCELLED);
    expect(inner.message).toMatch(/cancelled by its parent call/);
    return;
  }
  expect(inner.code, inner.message).toBe(grpc.status.DEADLINE_EXCEEDED);
  expect(inner.kind, inner.message).toBe('deadline-exceeded');
  expect(inner.deadlineMs, inner.message).toBeLessThanOrEqual(PARENT_MS);
}

function sentLeft(server: EchoServer, index = 0): number | undefined {
  return server.seen[index]?.deadlineLeftMs;
}

describe.each(policies)("a parent's propagated deadline bounds the call (%s)", (_label, policyOf) => {
  it("a stalled backend: the call ends at the parent's deadline, not the policy's 20 s", async () => {
    backend.seen.length = 0;
    backend.behave(stall);
    const { client } = clients.make(backend.address, policyOf(BASE));
    const inner = await throughFront(client);
    expectParentDeadline(inner, true);
    expect(sentLeft(backend)).toBeLessThanOrEqual(PARENT_MS);
  });

  it('propagate_flags DEADLINE alone: the call ends DEADLINE_EXCEEDED at the parent\'s deadline', async () => {
    backend.seen.length = 0;
    backend.behave(stall);
    const { client } = clients.make(backend.address, policyOf(BASE));
    const inner = await throughFront(client, { propagate_flags: grpc.propagate.DEADLINE });
    expectParentDeadline(inner, false);
    expect(sentLeft(backend)).toBeLessThanOrEqual(PARENT_MS);
  });

  it('explicit propagate_flags with DEADLINE, and a later own deadline: the parent still wins', async () => {
    backend.seen.length = 0;
    backend.behave(stall);
    const { client } = clients.make(backend.address, policyOf(BASE));
    const inner = await throughFront(client, { propagate_flags: grpc.propagate.DEADLINE, deadline: Date.now() + 3_600_000 });
    expectParentDeadline(inner, false);
  });

  it("a call held while reconnecting (nothing listens) ends at the parent's deadline", async () => {
    const port = await freePort();
    const { client } = clients.make(
      `127.0.0.1:${port}`,
      policyOf({ ...BASE, maxReconnectAttempts: Infinity, reconnect: { minDelayMs: 20, maxDelayMs: 50 }, probe: () => Promise.resolve(false) }),
    );
    const inner = await throughFront(client);
    expectParentDeadline(inner, true);
    expect(inner.mayHaveExecuted).toBe(false);
  });

  it("propagate_flags without DEADLINE: the parent's deadline is not the call's (the policy's deadlineMs is)", async () => {
    backend.seen.length = 0;
    backend.behave(stall);
    const { client } = clients.make(backend.address, policyOf({ ...BASE, deadlineMs: 1500 }));
    // (Nor CANCELLATION: the parent's client cancels it at its deadline, which would end the call.)
    const inner = await throughFront(client, { propagate_flags: grpc.propagate.DEFAULTS & ~grpc.propagate.DEADLINE & ~grpc.propagate.CANCELLATION });
    expect(inner.kind, inner.message).toBe('deadline-exceeded');
    expect(inner.deadlineMs, inner.message).toBe(1500);
    expect(sentLeft(backend)).toBeGreaterThan(PARENT_MS);
  });
});
