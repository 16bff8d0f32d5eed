/**
 * grpcInterceptor against a real grpc-js server on loopback: every row of the status table in
 * docs/grpc.md, judged by what reached the server (how many executions, which key, which
 * deadline) and what the caller got (the grpc-js ServiceError and the RPCException behind it).
 */
import * as grpc from '@grpc/grpc-js';
import { firstValueFrom, filter } from 'rxjs';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createPolicy, type PolicyOptions } from '../../src/index.js';
import { grpcInterceptor, rpcExceptionOf } from '../../src/grpc/index.js';
import { QUICK_POLICY, callEcho, freePort, interceptedClients, ok, stall, startEchoServer, status, type EchoClientInstance, type InterceptedClient } from './support.js';

const METHOD = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

const clients = interceptedClients();
/**
 * One answered call first, so the channel is connected before a short attempt timeout is put to
 * the test: on a loaded machine a new channel's connection alone can outlast it, and then the
 * attempt ends before anything was sent. (The next `behave` clears what the server has seen.)
 */
async function connected(client: EchoClientInstance): Promise<void> {
  server.behave(ok());
  expect((await callEcho(client, { warm: true })).error).toBeUndefined();
}

function clientFor(address: string, options: PolicyOptions = {}, idempotent = false): InterceptedClient {
  return clients.make(address, { ...QUICK_POLICY, methods: { [METHOD]: { idempotent } }, ...options });
}

describe('success path', () => {
  it('one idempotency key per logical call on every attempt, the attempt number, the remaining deadline as the gRPC deadline', async () => {
    const { client } = clientFor(server.address);
    server.behave(status(grpc.status.UNAVAILABLE, 'standby', { 'x-hotcold-error': 'NOT_ACTIVE' }), ok());
    const result = await callEcho(client, { n: 1 }, { deadline: Date.now() + 4000 });
    expect(result.value).toEqual({ echo: { n: 1 } });
    expect(server.seen).toHaveLength(2);
    const [first, second] = server.seen;
    expect(first?.key).toBeTruthy();
    expect(second?.key).toBe(first?.key);
    expect([first?.attempt, second?.attempt]).toEqual(['1', '2']);
    // The caller's 4 s deadline, less what the first attempt used: never more, never none.
    expect(first?.deadlineLeftMs).toBeLessThanOrEqual(4000);
    expect(first?.deadlineLeftMs).toBeGreaterThan(0);
    expect(second?.deadlineLeftMs).toBeLessThanOrEqual(first?.deadlineLeftMs ?? 0);
  });

  it("the policy's deadlineMs becomes the gRPC deadline when the caller sets none; the caller's own idempotency-key is kept", async () => {
    const { client } = clientFor(server.address, { deadlineMs: 1500 });
    server.behave(ok());
    const md = new grpc.Metadata();
    md.set('idempotency-key', 'my-own-key');
    const result = await callEcho(client, 'x', {}, md);
    expect(result.error).toBeUndefined();
    expect(server.seen[0]?.key).toBe('my-own-key');
    expect(server.seen[0]?.deadlineLeftMs).toBeLessThanOrEqual(1500);
  });

  it("the caller's Metadata object is left as it was (each attempt's metadata is a copy): a caller reusing it sends no stale key", async () => {
    const { client } = clientFor(server.address);
    server.behave(ok());
    const md = new grpc.Metadata();
    md.set('x-app', 'mine');
    expect((await callEcho(client, 'y', {}, md)).error).toBeUndefined();
    expect((await callEcho(client, 'z', {}, md)).error).toBeUndefined();
    expect(md.getMap()).toEqual({ 'x-app': 'mine' });
    expect(server.seen).toHaveLength(2);
    expect(server.seen[0]?.key).toBeTruthy();
    expect(server.seen[1]?.key).not.toBe(server.seen[0]?.key);
  });

  it('x-hotcold-node / x-hotcold-epoch reach the policy: a new identity is a failover', async () => {
    const { client, interceptor } = clientFor(server.address);
    const failovers: unknown[] = [];
    const sub = interceptor.policy.failover$.subscribe((event) => failovers.push(event));
    server.behave(ok('node-a', 1));
    await callEcho(client, 1);
    expect(interceptor.policy.state.node).toBe('node-a');
    server.behave(ok('node-b', 2));
    await callEcho(client, 2);
    sub.unsubscribe();
    expect(interceptor.policy.state.node).toBe('node-b');
    expect(failovers).toHaveLength(1);
    expect(failovers[0]).toMatchObject({ from: { node: 'node-a', epoch: 1 }, to: { node: 'node-b', epoch: 2 } });
  });
});

// A policy passed in races each attempt itself (it may be shared with other adapters); the
// interceptor's own policy leaves them to the interceptor. Both paths keep the same contract.
describe('a policy passed in (shared, closed by its owner)', () => {
  const policies: ReturnType<typeof createPolicy>[] = [];
  afterEach(async () => {
    for (const policy of policies.splice(0)) await policy.close();
  });

  function sharedClient(options: PolicyOptions): { client: EchoClientInstance; policy: ReturnType<typeof createPolicy> } {
    const policy = createPolicy({ breaker: false, budget: false, retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 5 }, ...options });
    policies.push(policy);
    const { client } = clients.make(server.address, policy);
    return { client, policy };
  }

  it('who answered reaches the policy; the idempotency key and attempt number go out', async () => {
    const { client, policy } = sharedClient({});
    server.behave(ok('node-c', 7));
    const result = await callEcho(client, 1);
    expect(result.value).toEqual({ echo: 1 });
    expect(policy.state.node).toBe('node-c');
    expect(server.seen[0]?.key).toBeTruthy();
    expect(server.seen[0]?.attempt).toBe('1');
  });

  it('an attempt that times out is cancelled on the wire; the idempotent call is answered by the next', async () => {
    const { client } = sharedClient({ methods: { [METHOD]: { idempotent: true, timeoutMs: 300 } } });
    await connected(client);
    let cancelled = false;
    server.behave((call) => call.on('cancelled', () => (cancelled = true)), ok());
    const result = await callEcho(client, 2);
    expect(result.error).toBeUndefined();
    expect(server.seen).toHaveLength(2);
    await expect.poll(() => cancelled).toBe(true);
  });

  it("the policy's close() with an attempt out: ClientClosed, may have run, cancelled on the wire", async () => {
    const { client, policy } = sharedClient({ timeoutMs: 60_000 });
    let cancelled = false;
    server.behave((call) => call.on('cancelled', () => (cancelled = true)));
    const pending = callEcho(client, 3);
    await server.reached(1);
    await policy.close();
    const result = await pending;
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(rpcExceptionOf(result.error)?.kind).toBe('client-closed');
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
    await expect.poll(() => cancelled).toBe(true);
    expect(server.seen).toHaveLength(1);
  });
});

describe('not executed: retried for any method', () => {
  it('connection refused (nothing listens): "No connection established", never sent, mayHaveExecuted false', async () => {
    const { client } = clientFor(`127.0.0.1:${await freePort()}`);
    const result = await callEcho(client, 1);
    const reason = rpcExceptionOf(result.error);
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(reason?.mayHaveExecuted).toBe(false);
    expect(reason?.attempts).toBeGreaterThanOrEqual(1);
  });

  for (const nodeError of ['NOT_ACTIVE', 'NOT_EXECUTED', 'EXPIRED']) {
    it(`UNAVAILABLE with x-hotcold-error: ${nodeError} is retried for a non-idempotent method`, async () => {
      const { client } = clientFor(server.address);
      server.behave(status(grpc.status.UNAVAILABLE, 'no', { 'x-hotcold-error': nodeError }), ok());
      const result = await callEcho(client, 1);
      expect(result.error).toBeUndefined();
      expect(server.seen).toHaveLength(2);
    });
  }

  it('x-hotcold-not-forwarded: 1 (the balancer forwarded nothing) is retried for a non-idempotent method', async () => {
    const { client } = clientFor(server.address);
    server.behave(status(grpc.status.UNAVAILABLE, 'Received HTTP status code 503', { 'x-hotcold-not-forwarded': '1' }), ok());
    expect((await callEcho(client, 1)).error).toBeUndefined();
    expect(server.seen).toHaveLength(2);
  });

  it('RESOURCE_EXHAUSTED with grpc-retry-pushback-ms (gRFC A6) is back-pressure: retried after the pushback, even when not idempotent', async () => {
    const { client, interceptor } = clientFor(server.address);
    const events: string[] = [];
    const sub = interceptor.policy.events$.subscribe((e) => events.push(e.type));
    server.behave(status(grpc.status.RESOURCE_EXHAUSTED, 'slow down', { 'grpc-retry-pushback-ms': '30' }), ok());
    expect((await callEcho(client, 1)).error).toBeUndefined();
    sub.unsubscribe();
    expect(server.seen).toHaveLength(2);
    expect(server.seen[1]?.key).toBe(server.seen[0]?.key);
    expect(interceptor.policy.state.status).toBe('connected');
  });

  it('the last "not executed" answer reaches the caller as UNAVAILABLE with mayHaveExecuted false', async () => {
    const { client } = clientFor(server.address, { retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 } });
    server.behave(status(grpc.status.UNAVAILABLE, 'standby', { 'x-hotcold-error': 'NOT_ACTIVE', 'grpc-retry-pushback-ms': '1' }));
    const result = await callEcho(client, 1);
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(false);
  });
});

describe('maybe executed: a non-idempotent call is not sent again, an idempotent one is', () => {
  const maybe: [string, grpc.status][] = [
    ['UNAVAILABLE (sent by the server, no marks)', grpc.status.UNAVAILABLE],
    ['INTERNAL', grpc.status.INTERNAL],
    ['UNKNOWN', grpc.status.UNKNOWN],
    ['DEADLINE_EXCEEDED', grpc.status.DEADLINE_EXCEEDED],
    ['DATA_LOSS', grpc.status.DATA_LOSS],
  ];
  for (const [name, code] of maybe) {
    it(name, async () => {
      const strict = clientFor(server.address);
      server.behave(status(code, 'broke'));
      const result = await callEcho(strict.client, 1);
      expect(server.seen).toHaveLength(1);
      expect(result.error?.code).toBe(code);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.kind).toBe('unknown-outcome');
      expect(reason?.mayHaveExecuted).toBe(true);

      const idempotent = clientFor(server.address, {}, true);
      server.behave(status(code, 'broke'), ok());
      expect((await callEcho(idempotent.client, 1)).error).toBeUndefined();
      expect(server.seen).toHaveLength(2);
    });
  }

  it('the server is killed mid-call (its connections dropped while the handler runs): "maybe", not sent again', async () => {
    const victim = await startEchoServer();
    const { client } = clientFor(victim.address);
    victim.behave(() => victim.server.forceShutdown());
    const result = await callEcho(client, 1);
    expect(victim.seen).toHaveLength(1);
    const reason = rpcExceptionOf(result.error);
    expect(reason?.mayHaveExecuted).toBe(true);
    expect(reason?.kind === 'unknown-outcome' || reason?.kind === 'retries-exhausted').toBe(true);
  });

  it("a stalled server: the attempt timeout cancels the call (the server sees it cancelled), 'maybe', not sent again", async () => {
    const { client } = clientFor(server.address, { timeoutMs: 300 });
    await connected(client);
    let cancelled = false;
    server.behave((call) => call.on('cancelled', () => (cancelled = true)));
    const result = await callEcho(client, 1);
    expect(server.seen).toHaveLength(1);
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
    await expect.poll(() => cancelled).toBe(true);
  });

  it('an idempotent call whose attempt times out: that attempt is cancelled on the wire, the next one answers', async () => {
    const { client } = clientFor(server.address, { timeoutMs: 300 }, true);
    await connected(client);
    let cancelled = false;
    server.behave((call) => call.on('cancelled', () => (cancelled = true)), ok());
    const result = await callEcho(client, 2);
    expect(result.error).toBeUndefined();
    expect(result.value).toEqual({ echo: 2 });
    expect(server.seen).toHaveLength(2);
    await expect.poll(() => cancelled).toBe(true);
  });

  it("the policy's close() while an attempt is out: the caller fails at once and the attempt is cancelled on the wire", async () => {
    const { client, interceptor } = clientFor(server.address, { timeoutMs: 60_000 });
    let cancelled = false;
    server.behave((call) => call.on('cancelled', () => (cancelled = true)));
    const pending = callEcho(client, 3);
    await server.reached(1);
    await interceptor.close();
    const result = await pending;
    expect(result.error).toBeDefined();
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
    await expect.poll(() => cancelled).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  // The interceptor's own policy leaves its attempts to the interceptor (the pipeline does not
  // race them): its close() must still end the attempt in flight, through the interceptor.
  it("the interceptor's own policy closed with an attempt out: ClientClosed, may have run, UNAVAILABLE, cancelled on the wire, nothing sent after", async () => {
    const { client, interceptor } = clientFor(server.address, { timeoutMs: 60_000, deadlineMs: 120_000 }, true);
    let cancelled = false;
    server.behave((call) => call.on('cancelled', () => (cancelled = true)));
    const pending = callEcho(client, 4);
    await server.reached(1);
    await interceptor.close();
    const result = await pending;
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    const reason = rpcExceptionOf(result.error);
    expect(reason?.kind).toBe('client-closed');
    expect(reason?.mayHaveExecuted).toBe(true);
    await expect.poll(() => cancelled).toBe(true);
    expect(server.seen).toHaveLength(1);
  });

  it("the interceptor's own policy closed between attempts (a standby's NOT_ACTIVE, then the backoff): ClientClosed, not run, no attempt after", async () => {
    const { client, interceptor } = clientFor(server.address, { retry: { maxAttempts: 3, minDelayMs: 60_000, maxDelayMs: 60_000 }, deadlineMs: 120_000 });
    server.behave(status(grpc.status.UNAVAILABLE, 'standby', { 'x-hotcold-error': 'NOT_ACTIVE' }));
    // The policy announces the retry when the call starts waiting out its backoff.
    const retrying = firstValueFrom(interceptor.policy.events$.pipe(filter((event) => event.type === 'retry')));
    const pending = callEcho(client, 5);
    await retrying;
    await interceptor.close();
    const result = await pending;
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    const reason = rpcExceptionOf(result.error);
    expect(reason?.kind).toBe('client-closed');
    expect(reason?.mayHaveExecuted).toBe(false);
    expect(server.seen).toHaveLength(1);
  });

  it('a call started after close(): refused at once, nothing sent', async () => {
    const { client, interceptor } = clientFor(server.address);
    server.behave(ok());
    await interceptor.close();
    const result = await callEcho(client, 6);
    expect(result.error?.code).toBe(grpc.status.UNAVAILABLE);
    expect(rpcExceptionOf(result.error)?.kind).toBe('client-closed');
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(false);
    expect(server.seen).toHaveLength(0);
  });
});

describe('answers: never retried by default', () => {
  const answers: [string, grpc.status][] = [
    ['INVALID_ARGUMENT', grpc.status.INVALID_ARGUMENT],
    ['NOT_FOUND', grpc.status.NOT_FOUND],
    ['ALREADY_EXISTS', grpc.status.ALREADY_EXISTS],
    ['FAILED_PRECONDITION', grpc.status.FAILED_PRECONDITION],
    ['ABORTED', grpc.status.ABORTED],
    ['OUT_OF_RANGE', grpc.status.OUT_OF_RANGE],
    ['UNIMPLEMENTED', grpc.status.UNIMPLEMENTED],
    ['RESOURCE_EXHAUSTED without pushback', grpc.status.RESOURCE_EXHAUSTED],
  ];
  for (const [name, code] of answers) {
    it(`${name}: the server's status, details and trailers reach the caller unchanged (RemoteCall, code ${code})`, async () => {
      const { client } = clientFor(server.address, {}, true);
      server.behave(status(code, `answer ${name}`, { 'x-app': 'kept' }));
      const result = await callEcho(client, 1);
      expect(server.seen).toHaveLength(1);
      expect(result.error?.code).toBe(code);
      expect(result.error?.details).toBe(`answer ${name}`);
      expect(result.error?.metadata.get('x-app')).toEqual(['kept']);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.kind).toBe('remote-call');
      expect((reason as { code?: number } | undefined)?.code).toBe(code);
    });
  }

  it('retryOnCodes opts an answer in (ABORTED)', async () => {
    const { client } = clientFor(server.address, { methods: { [METHOD]: { idempotent: true, retryOnCodes: [grpc.status.ABORTED] } } });
    server.behave(status(grpc.status.ABORTED, 'conflict'), ok());
    expect((await callEcho(client, 1)).error).toBeUndefined();
    expect(server.seen).toHaveLength(2);
  });

  for (const [name, code, httpLike] of [
    ['UNAUTHENTICATED', grpc.status.UNAUTHENTICATED, 401],
    ['PERMISSION_DENIED', grpc.status.PERMISSION_DENIED, 403],
  ] as const) {
    it(`${name}: Authentication (${httpLike}), not executed, not retried`, async () => {
      const { client } = clientFor(server.address, {}, true);
      server.behave(status(code, 'who are you'));
      const result = await callEcho(client, 1);
      expect(server.seen).toHaveLength(1);
      expect(result.error?.code).toBe(code);
      const reason = rpcExceptionOf(result.error);
      expect(reason?.kind).toBe('authentication');
      expect(reason?.mayHaveExecuted).toBe(false);
    });
  }
});

describe('service-wide method policies (gRFC A6 { service })', () => {
  it("'/test.Echo/*' makes every method of the service idempotent: a 'maybe' is retried", async () => {
    const { client } = clientFor(server.address, { methods: { '/test.Echo/*': { idempotent: true } } });
    server.behave(status(grpc.status.INTERNAL, 'broke'), ok());
    expect((await callEcho(client, 1)).error).toBeUndefined();
    expect(server.seen).toHaveLength(2);
  });

  it('the exact method wins over its service', async () => {
    const { client } = clientFor(server.address, { methods: { '/test.Echo/*': { idempotent: true }, [METHOD]: { idempotent: false } } });
    server.behave(status(grpc.status.INTERNAL, 'broke'), ok());
    const result = await callEcho(client, 1);
    expect(server.seen).toHaveLength(1);
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(true);
  });

  it("another service's entry does not apply", async () => {
    const { client } = clientFor(server.address, { methods: { '/other.Echo/*': { idempotent: true } } });
    server.behave(status(grpc.status.INTERNAL, 'broke'), ok());
    await callEcho(client, 1);
    expect(server.seen).toHaveLength(1);
  });

  it.each(['test.Echo/Call', '/test.Echo', '/test.Echo/', '/*', '/test.*/Call', '/test.Echo/Ca*'])('an invalid key %j is a ConfigurationError naming methods.<key>', (key) => {
    const error = (() => {
      try {
        grpcInterceptor({ methods: { [key]: { idempotent: true } } });
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).field).toBe(`methods.${key}`);
  });
});

describe('the caller and the options', () => {
  it("the caller's cancel() ends the call: CANCELLED, CallAborted", async () => {
    const { client } = clientFor(server.address);
    server.behave(stall);
    const outcome = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call(1, (e) => resolve(e));
      void server.reached(1).then(() => call.cancel());
    });
    const error = await outcome;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    expect(rpcExceptionOf(error)?.kind).toBe('call-aborted');
    // The attempt was out on the wire (the server had it): it may have run.
    expect(rpcExceptionOf(error)?.mayHaveExecuted).toBe(true);
  });

  it("cancel() during an outage whose every attempt was refused (never sent): CallAborted with mayHaveExecuted false, as policy.execute's abort says", async () => {
    const { client, interceptor } = clientFor(`127.0.0.1:${await freePort()}`, {
      maxReconnectAttempts: Infinity,
      reconnect: { minDelayMs: 20, maxDelayMs: 50 },
      // The held call waits for a probe that keeps failing: no attempt is in flight when it is cancelled.
      probe: () => Promise.resolve(false),
    });
    const probed = new Promise<void>((resolve) => {
      const sub = interceptor.policy.events$.subscribe((e) => {
        if (e.type === 'probe') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const outcome = new Promise<grpc.ServiceError | null>((resolve) => {
      const call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call(1, (e) => resolve(e));
      void probed.then(() => call.cancel());
    });
    const error = await outcome;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    expect(rpcExceptionOf(error)?.kind).toBe('call-aborted');
    expect(rpcExceptionOf(error)?.mayHaveExecuted).toBe(false);
  });

  it("a caller's idempotency-key the policy refuses (over 200 characters) fails the call as not sent, and nothing reaches the server", async () => {
    const { client } = clientFor(server.address);
    server.behave(ok());
    const md = new grpc.Metadata();
    md.set('idempotency-key', 'k'.repeat(201));
    const result = await callEcho(client, 1, {}, md);
    expect(server.seen).toHaveLength(0);
    expect(result.error?.code).toBe(grpc.status.INTERNAL);
    expect(rpcExceptionOf(result.error)?.mayHaveExecuted).toBe(false);
  });

  it('streaming calls pass through untouched (no key, no policy): both messages of a server stream arrive', async () => {
    const { client, interceptor } = clientFor(server.address);
    const attempts: unknown[] = [];
    const sub = interceptor.policy.events$.subscribe((e) => e.type === 'attempt' && attempts.push(e));
    const stream = (client as unknown as { stream: (r: unknown) => grpc.ClientReadableStream<unknown> }).stream({ s: 1 });
    const messages: unknown[] = [];
    stream.on('data', (m: unknown) => messages.push(m));
    await new Promise<void>((resolve, reject) => {
      stream.on('end', () => resolve());
      stream.on('error', reject);
    });
    sub.unsubscribe();
    expect(messages).toEqual([{ n: 1, key: null }, { n: 2 }]);
    expect(attempts).toHaveLength(0);
  });

  it('bad arguments are ConfigurationErrors naming the field', () => {
    expect(() => grpcInterceptor(null as never)).toThrow(ConfigurationError);
    expect(() => grpcInterceptor(null as never)).toThrow(/policyOrOptions/);
    expect(() => grpcInterceptor({ retry: { maxAttempts: -1 } })).toThrow(ConfigurationError);
  });
});
