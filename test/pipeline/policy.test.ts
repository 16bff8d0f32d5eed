/**
 * createPolicy(options).execute(fn) against real loopback servers: classification of what a
 * plain function throws (axios, fetch, Node sockets), the attempt timeout of a function that
 * ignores its signal, recovery with and without a probe, give-up, budget, breaker, classify, close.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  CallAbortedException,
  CircuitOpenException,
  ClientClosedException,
  ConfigurationError,
  ConnectionFailureException,
  RemoteCallException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  createPolicy,
  defaultClassify,
  type AttemptContext,
  type ConnectionState,
  type Policy,
  type PolicyOptions,
} from 'hotcold';
import { recordEvents, startTestServer, until, type TestServer } from './support.js';

const FAST_RETRY = { maxAttempts: 4, minDelayMs: 1, maxDelayMs: 5 } as const;
const FAST_RECONNECT = { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 500 } as const;

let server: TestServer;
const policies: Policy[] = [];
const http1 = axios.create({ httpAgent: new http.Agent({ keepAlive: false }) });

beforeEach(async () => {
  server = await startTestServer();
});
afterEach(async () => {
  await Promise.all(policies.splice(0).map((p) => p.close()));
  await server.close();
});

function policy(options: PolicyOptions = {}): Policy {
  const p = createPolicy({ retry: FAST_RETRY, reconnect: FAST_RECONNECT, ...options });
  policies.push(p);
  return p;
}

/** One attempt: POST /rpc with axios, the policy's signal and the idempotency key. */
const post = async ({ signal, idempotencyKey, report }: AttemptContext): Promise<unknown> => {
  const response = await http1.post(`${server.url}/rpc`, { x: 1 }, { signal, headers: { 'Idempotency-Key': idempotencyKey } });
  report({ node: response.headers['x-hotcold-node'] as string, epoch: Number(response.headers['x-hotcold-epoch']) });
  return response.data;
};

const healthProbe: PolicyOptions['probe'] = async ({ signal }) => {
  const response = await http1.get(`${server.url}/health`, { signal, validateStatus: () => true });
  return { ok: response.status === 200, node: response.headers['x-hotcold-node'] as string | undefined, status: response.status };
};

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const { port } = s.address() as AddressInfo;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

describe('createPolicy: classification of what a plain function throws', () => {
  it('a successful call returns the function value, with one idempotency key for the call', async () => {
    const p = policy();
    const keys: string[] = [];
    const result = await p.execute((context) => {
      keys.push(context.idempotencyKey);
      expect(context.attempt).toBe(1);
      expect(context.timeoutMs).toBeGreaterThan(0);
      expect(context.deadlineLeftMs).toBeGreaterThanOrEqual(context.timeoutMs);
      expect(context.backend).toBe('default');
      return post(context);
    }, { name: 'transfer' });
    expect(result).toEqual({ ok: true, node: 'node-a' });
    expect(p.state.status).toBe('connected');
    expect(p.state.node).toBe('node-a');
  });

  it('a refused connection (fetch, cause.code ECONNREFUSED) is "not executed"', async () => {
    const port = await closedPort();
    const p = policy({ methods: { transfer: { retry: false } } });
    const error = await p.execute(({ signal }) => fetch(`http://127.0.0.1:${port}/rpc`, { method: 'POST', signal }), { name: 'transfer' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionFailureException);
    expect((error as ConnectionFailureException).mayHaveExecuted).toBe(false);
  });

  it('a reset after the request reached the server is "maybe": a non-idempotent call is not sent again', async () => {
    server.mode = 'reset';
    const p = policy();
    const error = await p.execute(post, { name: 'transfer' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
    expect(server.calls).toBe(1);
  });

  it('the same reset with the adapter\'s evidence written=false is "not executed"', async () => {
    server.mode = 'reset';
    const p = policy({ methods: { transfer: { retry: false } } });
    const error = await p
      .execute(async (context) => {
        context.report({ written: false });
        return post(context);
      }, { name: 'transfer' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionFailureException);
  });

  it('a header-less 503 is "maybe" (never a backend outage on its word); an idempotent call is retried', async () => {
    server.mode = 'plain-503';
    const p = policy({ probe: healthProbe });
    const maybe = await p.execute(post, { name: 'transfer' }).catch((e: unknown) => e);
    expect(maybe).toBeInstanceOf(UnknownOutcomeException);
    expect(server.calls).toBe(1);
    const retried = await p.execute(post, { name: 'balance', idempotent: true }).catch((e: unknown) => e);
    expect(retried).toBeInstanceOf(RetriesExhaustedException);
    expect((retried as RetriesExhaustedException).reason).toBe('attempts');
    expect(server.calls).toBe(1 + FAST_RETRY.maxAttempts);
  });

  it('a 4xx is an answer (RemoteCall with the status as code), not a failure of the backend', async () => {
    server.mode = 'conflict';
    const p = policy({ breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, whenOpen: 'fail' } });
    for (let i = 0; i < 3; i++) {
      const error = await p.execute(post, { name: 'transfer' }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RemoteCallException);
      expect((error as RemoteCallException).code).toBe(409);
      expect((error as RemoteCallException).node).toBe('node-a');
    }
    expect(server.calls).toBe(3); // no breaker opened, no retry
  });

  it('a 429 is back-pressure: the retry waits for Retry-After, no outage starts', async () => {
    server.mode = 'too-many';
    const p = policy();
    const states: string[] = [];
    p.state$.subscribe((s) => states.push(s.status));
    const started = Date.now();
    const call = p.execute(post, { name: 'transfer' });
    await until(() => server.calls === 1, 5000, 'first attempt');
    server.mode = 'ok';
    await expect(call).resolves.toEqual({ ok: true, node: 'node-a' });
    expect(server.calls).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900); // the pause the server asked for
    expect(states).not.toContain('reconnecting');
  });

  it('a function that ignores its signal and hangs ends at the attempt timeout ("maybe")', async () => {
    const p = policy({ methods: { slow: { retry: false, timeoutMs: 100 } } });
    let seen: AbortSignal | undefined;
    const error = await p
      .execute((context) => {
        seen = context.signal;
        return new Promise<never>(() => undefined);
      }, { name: 'slow' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
    expect(seen?.aborted).toBe(true);
    expect((seen?.reason as Error).name).toBe('TimeoutError');
  });

  it('a server that never answers: the attempt timeout ends the axios request through the signal', async () => {
    server.mode = 'hang';
    const p = policy({ methods: { slow: { retry: false, timeoutMs: 150 } } });
    const error = await p.execute(post, { name: 'slow' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    await until(() => server.inFlight === 0, 5000, 'the request to be cut');
  });

  it('the caller\'s signal aborts an attempt that ignores it', async () => {
    const p = policy();
    const controller = new AbortController();
    const call = p.execute(() => new Promise<never>(() => undefined), { name: 'stuck', signal: controller.signal });
    setTimeout(() => controller.abort(), 20);
    const error = await call.catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallAbortedException);
    expect((error as CallAbortedException).mayHaveExecuted).toBe(true);
  });

  it('a call whose signal is already aborted does not run the function: not executed', async () => {
    const p = policy();
    let runs = 0;
    const controller = new AbortController();
    controller.abort();
    const error = await p.execute(() => ++runs, { name: 'op', signal: controller.signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallAbortedException);
    expect((error as CallAbortedException).mayHaveExecuted).toBe(false);
    expect(runs).toBe(0);
  });

  it('many attempts that ignore their signal end at their own timeouts (one timer for all)', async () => {
    const p = policy({ methods: { slow: { retry: false } } });
    const calls = [300, 100, 200, 100].map((timeoutMs) =>
      p.execute(() => new Promise<never>(() => undefined), { name: 'slow', timeoutMs }).then(
        () => 'ok',
        (e: unknown) => (e as Error).constructor.name,
      ),
    );
    expect(await Promise.all(calls)).toEqual(Array(4).fill('UnknownOutcomeException'));
  });

  it('classify overrides the default, and sees the name, attempt, backend and written evidence', async () => {
    class QueueFull extends Error {}
    const contexts: unknown[] = [];
    const p = policy({
      classify: (error, context) => {
        contexts.push(context);
        return error instanceof QueueFull
          ? new ConnectionFailureException('queue full', { method: context.name })
          : defaultClassify(error, context);
      },
    });
    let runs = 0;
    const result = await p.execute((context) => {
      runs++;
      if (runs < 3) {
        context.report({ written: false });
        throw new QueueFull('full');
      }
      return 'done';
    }, { name: 'enqueue' });
    expect(result).toBe('done');
    expect(runs).toBe(3); // a non-idempotent call, retried because the classifier said "not executed"
    expect(contexts[0]).toEqual({ name: 'enqueue', attempt: 1, backend: 'default', written: false });
    expect(contexts[1]).toMatchObject({ attempt: 2 });
  });

  it('an RPCException thrown by the function is used as is', async () => {
    const p = policy({ methods: { op: { retry: false } } });
    const mine = new RemoteCallException(7, 'mine', { a: 1 });
    await expect(p.execute(() => Promise.reject(mine), { name: 'op' })).rejects.toBe(mine);
  });

  it('bad options and bad calls are ConfigurationErrors naming the field', async () => {
    expect(() => createPolicy({ timeoutMs: -1 })).toThrow(ConfigurationError);
    expect(() => createPolicy({ probe: 5 } as unknown as PolicyOptions)).toThrow(/probe/);
    expect(() => createPolicy({ backends: [] })).toThrow(/backends/);
    expect(() => createPolicy({ nope: 1 } as unknown as PolicyOptions)).toThrow(/nope/);
    const p = policy();
    await expect(p.execute(() => 1, { name: '' })).rejects.toThrow(/name/);
    await expect(p.execute(() => 1, { name: 'x', timeoutMs: Number.NaN })).rejects.toThrow(/timeoutMs/);
    await expect(p.execute(() => 1, { name: 'x', idempotencyKey: 'a b' })).rejects.toThrow(/idempotencyKey/);
    // Found by a breaker: null options were taken for "all defaults", a non-signal crashed with a TypeError.
    expect(() => createPolicy(null as unknown as PolicyOptions)).toThrow(ConfigurationError);
    const notASignal = p.execute(() => 1, { name: 'x', signal: 'x' as unknown as AbortSignal });
    await expect(notASignal).rejects.toBeInstanceOf(ConfigurationError);
    await expect(notASignal).rejects.toMatchObject({ field: 'signal' });
  });
});

describe('createPolicy: outages', () => {
  it('probe-driven recovery: calls are held during the outage (nothing is sent) and released when the probe finds service', async () => {
    const p = policy({ probe: healthProbe });
    const events = recordEvents(p.events$);
    await p.execute(post, { name: 'transfer' });
    server.mode = 'not-forwarded';
    server.healthy = false;
    const first = p.execute(post, { name: 'transfer' });
    await until(() => p.state.status === 'reconnecting', 5000, 'the outage to be announced');
    const callsAtOutage = server.calls;
    const held = Array.from({ length: 20 }, () => p.execute(post, { name: 'transfer' }));
    await until(() => server.probes >= 3, 5000, 'probes');
    expect(server.calls).toBe(callsAtOutage); // held, not sent into the outage
    server.mode = 'ok';
    server.healthy = true;
    const results = await Promise.all([first, ...held]);
    expect(results.every((r) => (r as { ok: boolean }).ok)).toBe(true);
    expect(server.calls).toBe(callsAtOutage + 21);
    expect(events.of('disconnected')).toHaveLength(1);
    expect(events.of('reconnected')).toHaveLength(1);
    expect(p.state.status).toBe('connected');
  });

  it('a new identity after the outage is a failover (failover$)', async () => {
    const p = policy({ probe: async ({ signal }) => {
      const response = await http1.get(`${server.url}/health`, { signal, validateStatus: () => true });
      return { ok: response.status === 200, node: response.headers['x-hotcold-node'] as string, epoch: Number(response.headers['x-hotcold-epoch']) };
    } });
    const failovers: unknown[] = [];
    p.failover$.subscribe((e) => failovers.push(e));
    await p.execute(post, { name: 'transfer' });
    server.mode = 'not-forwarded';
    server.healthy = false;
    const call = p.execute(post, { name: 'transfer' });
    await until(() => p.state.status === 'reconnecting', 5000, 'outage');
    server.node = 'node-b';
    server.epoch = 2;
    server.mode = 'ok';
    server.healthy = true;
    await expect(call).resolves.toEqual({ ok: true, node: 'node-b' });
    expect(failovers).toEqual([{ from: { node: 'node-a', epoch: 1 }, to: { node: 'node-b', epoch: 2 }, outageMs: expect.any(Number) }]);
  });

  it('without a probe, held calls recover through trials: one call at a time goes out until one succeeds', async () => {
    const p = policy({ retry: { maxAttempts: 50, minDelayMs: 1, maxDelayMs: 5 } });
    await p.execute(post, { name: 'transfer' });
    server.mode = 'not-forwarded';
    const calls = Array.from({ length: 20 }, () => p.execute(post, { name: 'transfer' }));
    await until(() => p.state.status === 'reconnecting', 5000, 'outage');
    server.resetMax();
    const sentAtOutage = server.calls;
    await until(() => server.calls >= sentAtOutage + 3, 10_000, 'trials');
    expect(server.maxInFlight).toBeLessThanOrEqual(1); // one trial at a time
    server.mode = 'ok';
    const results = await Promise.all(calls);
    expect(results).toHaveLength(20);
    expect(p.state.status).toBe('connected');
  });

  it('give-up reaches every held call: RetriesExhausted("reconnect"), not executed, onPermanentFailure once', async () => {
    let permanent = 0;
    const p = policy({
      probe: healthProbe,
      maxReconnectAttempts: 3,
      retry: { maxAttempts: 10, minDelayMs: 200, maxDelayMs: 200, jitter: 'none' },
      onPermanentFailure: () => permanent++,
    });
    server.mode = 'not-forwarded';
    server.healthy = false;
    const calls = Array.from({ length: 10 }, () => p.execute(post, { name: 'transfer' }).catch((e: unknown) => e));
    const errors = await Promise.all(calls);
    for (const error of errors) {
      expect(error).toBeInstanceOf(RetriesExhaustedException);
      expect((error as RetriesExhaustedException).reason).toBe('reconnect');
      expect((error as RetriesExhaustedException).mayHaveExecuted).toBe(false);
    }
    expect(permanent).toBe(1);
    expect(p.state.status).toBe('failed');
  });

  it('budget: calls held through a confirmed outage do not draw from it; retries outside an outage do', async () => {
    const p = policy({ probe: healthProbe, budget: { ratio: 0, minRetriesPerSecond: 0.1 }, retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 } });
    server.mode = 'not-forwarded';
    server.healthy = false;
    const calls = Array.from({ length: 50 }, () => p.execute(post, { name: 'transfer' }).catch((e: unknown) => e));
    await until(() => p.state.status === 'reconnecting', 5000, 'outage');
    await until(() => server.probes >= 2, 5000, 'a failed probe');
    server.mode = 'ok';
    server.healthy = true;
    const outcomes = await Promise.all(calls);
    expect(outcomes.filter((o) => o instanceof Error)).toEqual([]);
    // Outside an outage: 409 opted in to retry, the budget (ratio 0, one retry per 10 s) refuses soon.
    server.mode = 'conflict';
    const budgeted = policy({ budget: { ratio: 0, minRetriesPerSecond: 0.1 }, methods: { op: { retryOnCodes: [409] } } });
    const error = await budgeted.execute(post, { name: 'op' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    expect((error as RetriesExhaustedException).reason).toBe('budget');
  });

  it('a breaker per backend key: the failing backend opens, its events name it', async () => {
    const p = policy({
      backends: ['api-a'],
      breaker: { volumeThreshold: 3, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, whenOpen: 'fail' },
      methods: { read: { idempotent: true, retry: false } },
    });
    const events = recordEvents(p.events$);
    server.mode = 'hang';
    for (let i = 0; i < 3; i++) await p.execute(post, { name: 'read', timeoutMs: 50 }).catch(() => undefined);
    const error = await p.execute(post, { name: 'read' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CircuitOpenException);
    expect(events.of('breaker-open')).toEqual([expect.objectContaining({ backend: 'api-a' })]);
  });

  it('close() ends held and in-flight calls (ClientClosed) and leaves no handle behind', async () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const p = createPolicy({ probe: healthProbe, reconnect: FAST_RECONNECT });
    const states: ConnectionState['status'][] = [];
    p.state$.subscribe((s) => states.push(s.status));
    const stuck = p.execute(() => new Promise<never>(() => undefined), { name: 'stuck', timeoutMs: 60_000 }).catch((e: unknown) => e);
    server.mode = 'not-forwarded';
    server.healthy = false;
    const held = p.execute(post, { name: 'transfer' }).catch((e: unknown) => e);
    await until(() => p.state.status === 'reconnecting', 5000, 'outage');
    await p.close();
    expect(await stuck).toBeInstanceOf(ClientClosedException);
    expect(await held).toBeInstanceOf(ClientClosedException);
    expect(p.closed).toBe(true);
    expect(states.at(-1)).toBe('closed');
    await expect(p.execute(() => 1, { name: 'x' })).rejects.toBeInstanceOf(ClientClosedException);
    // Nothing of the policy's stays armed (what other parts of the test hold ends by itself).
    await until(() => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length <= before, 5000, 'timers to end');
  });
});

describe('idempotencyKey: false (the call carries no key)', () => {
  it('an attempt that may have run ends the call at once, even where the server deduplicates: no retry, the function ran once', async () => {
    const p = policy({ serverDeduplicates: true, retry: { maxAttempts: 4, minDelayMs: 5000, maxDelayMs: 5000, jitter: 'none' } });
    const events = recordEvents(p.events$);
    let calls = 0;
    const fn = (): Promise<never> => {
      calls += 1;
      return Promise.reject(new UnknownOutcomeException('reset after the request was written', { mayHaveExecuted: true }));
    };
    const error = await p.execute(fn, { name: 'pay', idempotencyKey: false }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
    expect(calls).toBe(1);
    expect(events.of('retry')).toEqual([]);
  });

  it('keyed (the default) it is repeated where the server deduplicates; never-sent attempts are retried either way', async () => {
    const p = policy({ serverDeduplicates: true });
    let calls = 0;
    const maybe = (): Promise<string> => (++calls === 1 ? Promise.reject(new UnknownOutcomeException('reset', { mayHaveExecuted: true })) : Promise.resolve('ok'));
    expect(await p.execute(maybe, { name: 'pay' })).toBe('ok');
    let refused = 0;
    const notSent = (): Promise<string> => (++refused === 1 ? Promise.reject(new ConnectionFailureException('refused')) : Promise.resolve('ok'));
    expect(await p.execute(notSent, { name: 'pay', idempotencyKey: false })).toBe('ok');
  });

  // The REST and gRPC adapters run on this pipeline: a call whose first attempt may have run,
  // before any answer told whether the server deduplicates, is repeated on the probe's proof.
  it('keyed, before any answer: repeated on the probe proving dedup; not repeated without a probe or where it does not dedup', async () => {
    const maybeOnce = (): { fn: () => Promise<string>; calls: () => number } => {
      let calls = 0;
      return {
        fn: () => (++calls === 1 ? Promise.reject(new UnknownOutcomeException('reset after the request was written', { mayHaveExecuted: true })) : Promise.resolve('ok')),
        calls: () => calls,
      };
    };
    const proven = maybeOnce();
    const withProof = policy({ probe: () => Promise.resolve({ ok: true, node: 'b', epoch: 2, dedup: true }) });
    expect(await withProof.execute(proven.fn, { name: 'pay' })).toBe('ok');
    expect(proven.calls()).toBe(2);

    const refused = maybeOnce();
    const withoutDedup = policy({ probe: () => Promise.resolve({ ok: true, node: 'b', epoch: 2 }) });
    const error = await withoutDedup.execute(refused.fn, { name: 'pay' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect(refused.calls()).toBe(1);

    const unasked = maybeOnce();
    const noProbe = policy();
    expect(await noProbe.execute(unasked.fn, { name: 'pay' }).catch((e: unknown) => e)).toBeInstanceOf(UnknownOutcomeException);
    expect(unasked.calls()).toBe(1);
  });

  it('any other non-string is a ConfigurationError naming idempotencyKey', async () => {
    const p = policy();
    await expect(p.execute(() => 1, { name: 'x', idempotencyKey: true as never })).rejects.toThrow(ConfigurationError);
    await expect(p.execute(() => 1, { name: 'x', idempotencyKey: true as never })).rejects.toThrow(/idempotencyKey/);
  });
});
