/**
 * A grpc-js call made for a server call (`{ parent: call }`) with CANCELLATION propagation
 * (`propagate_flags` with `grpc.propagate.CANCELLATION`, grpc-js's default with a parent) is
 * cancelled when its parent is: the caller's caller gave up. The interceptor ends the whole call
 * then, as cancelled by its caller: no retry, no evidence against the backend.
 * Before, grpc-js cancelled the attempt in flight and the policy retried it: attempt 2 reached
 * the backend and ran after the caller's caller had gone (the parent's 'cancelled' event is
 * emitted once, and grpc-js's own listener only covers the attempt that was in flight then).
 *
 * Real grpc-js: a client calls a front server and cancels that call; the front's handler calls a
 * second server through the interceptor with `parent`.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { createPolicy, type ConnectionState } from '../../src/index.js';
import { rpcExceptionOf, type GrpcInterceptorOptions } from '../../src/grpc/index.js';
import { ECHO_METHOD, EchoClient, callEcho, freePort, interceptedClients, ok, stall, startEchoServer, type Behaviour, type EchoClientInstance } from './support.js';

const backend = await startEchoServer();
const front = await startEchoServer();
const clients = interceptedClients();
afterAll(async () => {
  await backend.close();
  await front.close();
});

const BASE = {
  retry: { maxAttempts: 5, minDelayMs: 5, maxDelayMs: 10 },
  breaker: { volumeThreshold: 1, errorThresholdPercentage: 1 },
  budget: false,
  maxReconnectAttempts: 1,
  reconnect: { minDelayMs: 5, maxDelayMs: 10 },
  timeoutMs: 10_000,
  deadlineMs: 10_000,
  methods: { [ECHO_METHOD]: { idempotent: true } },
} as const satisfies GrpcInterceptorOptions;

interface Made {
  client: EchoClientInstance;
  state: () => ConnectionState;
}

const policies: [string, (options: GrpcInterceptorOptions) => Made][] = [
  [
    "the interceptor's own policy",
    (options) => {
      const { client, interceptor } = clients.make(backend.address, options);
      return { client, state: () => interceptor.policy.state };
    },
  ],
  [
    'a policy passed in',
    (options) => {
      const policy = createPolicy(options);
      clients.onCleanup(() => policy.close());
      const { client } = clients.make(backend.address, policy);
      return { client, state: () => policy.state };
    },
  ],
];

interface Inner {
  code: number | undefined;
  details: string | undefined;
  kind: string | undefined;
  message: string | undefined;
  mayHaveExecuted: boolean | undefined;
  value: unknown;
}

type Parent = grpc.ServerUnaryCall<unknown, unknown>;

/**
 * Calls `front`; its handler runs `handler(call)` and the promise resolves with what the handler's
 * own promise gives. `cancelOuter` is called with a function that cancels the outer call.
 */
function throughFront<T>(handler: (parent: Parent) => Promise<T>, cancelOuter: (cancel: () => void) => void): Promise<T> {
  return new Promise((resolve) => {
    front.behave((call, callback) => {
      void handler(call).then((result) => {
        resolve(result);
        callback(null, { done: true });
      });
    });
    const outer = new EchoClient(front.address, grpc.credentials.createInsecure());
    clients.onCleanup(() => outer.close());
    const call = (outer as unknown as { call: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: () => void) => grpc.ClientUnaryCall }).call(
      { n: 1 },
      new grpc.Metadata(),
      {},
      () => undefined,
    );
    cancelOuter(() => call.cancel());
  });
}

async function innerCall(client: EchoClientInstance, parent: Parent, options: Omit<grpc.CallOptions, 'parent'> = {}): Promise<Inner> {
  const { error, value } = await callEcho(client, { via: 'front' }, { ...options, parent });
  const why = rpcExceptionOf(error);
  return { code: error?.code, details: error?.details, kind: why?.kind, message: why?.message, mayHaveExecuted: why?.mayHaveExecuted, value };
}

function parentCancelled(parent: Parent): Promise<void> {
  return new Promise((resolve) => {
    if (parent.cancelled) resolve();
    else parent.once('cancelled', () => resolve());
  });
}

/** Lets any attempt sent before the call ended arrive (no bound on time is asserted). */
const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 300));

describe.each(policies)("a parent's propagated cancellation ends the call (%s)", (_label, make) => {
  it('cancelled while attempt 1 runs on the backend: the call ends CANCELLED, no attempt 2 is sent', async () => {
    backend.behave(stall, ok());
    const { client, state } = make(BASE);
    const inner = await throughFront(
      (parent) => innerCall(client, parent),
      (cancel) => void backend.reached(1).then(cancel),
    );
    expect(inner.code, inner.message).toBe(grpc.status.CANCELLED);
    expect(inner.kind, inner.message).toBe('call-aborted');
    expect(inner.mayHaveExecuted).toBe(true);
    await settle();
    expect(backend.seen.length).toBe(1);
    // No evidence against the backend: the policy still serves, the next call goes through at once.
    expect(['connecting', 'connected']).toContain(state().status);
    backend.behave(ok());
    const next = await callEcho(client, { n: 2 });
    expect(next.error?.message).toBeUndefined();
    expect(backend.seen.map((s) => s.attempt)).toEqual(['1']);
  });

  it('explicit propagate_flags with CANCELLATION (no DEADLINE): the same', async () => {
    backend.behave(stall, ok());
    const { client } = make(BASE);
    const inner = await throughFront(
      (parent) => innerCall(client, parent, { propagate_flags: grpc.propagate.CANCELLATION }),
      (cancel) => void backend.reached(1).then(cancel),
    );
    expect(inner.code, inner.message).toBe(grpc.status.CANCELLED);
    expect(inner.kind, inner.message).toBe('call-aborted');
    await settle();
    expect(backend.seen.length).toBe(1);
  });

  it('a parent already cancelled when the call begins: nothing is sent', async () => {
    backend.behave(ok());
    const { client, state } = make(BASE);
    const inner = await throughFront(
      async (parent) => {
        await parentCancelled(parent);
        return innerCall(client, parent);
      },
      (cancel) => setTimeout(cancel, 50),
    );
    expect(inner.code, inner.message).toBe(grpc.status.CANCELLED);
    expect(inner.kind, inner.message).toBe('call-aborted');
    expect(inner.mayHaveExecuted).toBe(false);
    await settle();
    expect(backend.seen.length).toBe(0);
    expect(['connecting', 'connected']).toContain(state().status);
  });

  it('a call held while reconnecting (nothing listens) leaves its wait when its parent is cancelled', async () => {
    const port = await freePort();
    const options = { ...BASE, maxReconnectAttempts: Infinity, probe: () => Promise.resolve(false) };
    const { client } = clients.make(`127.0.0.1:${port}`, options);
    const inner = await throughFront(
      (parent) => innerCall(client, parent),
      (cancel) => setTimeout(cancel, 200),
    );
    expect(inner.code, inner.message).toBe(grpc.status.CANCELLED);
    expect(inner.kind, inner.message).toBe('call-aborted');
    expect(inner.mayHaveExecuted).toBe(false);
  });

  it('propagate_flags without CANCELLATION: the call goes on after its parent is cancelled', async () => {
    let release: () => void = () => undefined;
    const released = new Promise<void>((resolve) => (release = resolve));
    const late: Behaviour = (call, callback) => void released.then(() => ok()(call, callback, 0));
    backend.behave(late);
    const { client } = make(BASE);
    const inner = await throughFront(
      (parent) => {
        void parentCancelled(parent).then(release);
        return innerCall(client, parent, { propagate_flags: grpc.propagate.DEADLINE });
      },
      (cancel) => void backend.reached(1).then(cancel),
    );
    expect(inner.message).toBeUndefined();
    expect(inner.value).toEqual({ echo: { via: 'front' } });
  });

  it("thousands of calls on one parent leave no listener of the interceptor's on it", async () => {
    backend.behave(ok());
    const { client } = make(BASE);
    const bare = new EchoClient(backend.address, grpc.credentials.createInsecure());
    clients.onCleanup(() => bare.close());
    const N = 1000;
    const counts = await throughFront(
      async (parent) => {
        parent.setMaxListeners(0);
        const before = parent.listenerCount('cancelled');
        // grpc-js itself leaves one listener per call on the parent (never removed): the bare
        // client's count is the baseline the interceptor's calls must not exceed.
        for (let i = 0; i < N; i += 100) await Promise.all(Array.from({ length: 100 }, () => callEcho(bare, { i }, { parent })));
        const bareAdded = parent.listenerCount('cancelled') - before;
        const failures: unknown[] = [];
        for (let i = 0; i < N; i += 100) {
          const results = await Promise.all(Array.from({ length: 100 }, () => callEcho(client, { i }, { parent })));
          for (const r of results) if (r.error !== undefined) failures.push(r.error.message);
        }
        return { bareAdded, interceptedAdded: parent.listenerCount('cancelled') - before - bareAdded, failures };
      },
      () => undefined,
    );
    expect(counts.failures).toEqual([]);
    expect(counts.interceptedAdded).toBe(counts.bareAdded);
  });
});
