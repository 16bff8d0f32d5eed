/**
 * The retry rules of DESIGN §2, end to end: a real client against the real fault server, and the
 * server's own record of what arrived and what it executed.
 */
import { describe, expect, it } from 'vitest';
import {
  AuthenticationException,
  ConnectionFailureException,
  RemoteCallException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  type HotcoldClient,
  ProtocolException,
  type ClientOptions,
} from 'hotcold';
import { FAST_RECONNECT, FAST_RETRY, delay, record, until, faultServerSuite } from './helpers.js';

const suite = faultServerSuite({ retry: FAST_RETRY, reconnect: FAST_RECONNECT });
const client = (options: Partial<ClientOptions> = {}): HotcoldClient => suite.client(options);

describe('retry rules', () => {
  it('retries an idempotent call whose outcome is unknown, with one key and a rising attempt number', async () => {
    const c = client({ methods: { balance: { idempotent: true } } });
    suite.server.enqueue('reset-after-request', '502', '504');
    await expect(c.call('balance', { account: 'A' })).resolves.toEqual({ method: 'balance', params: { account: 'A' } });
    const requests = suite.server.requests;
    expect(requests.map((r) => r.attempt)).toEqual([1, 2, 3, 4]);
    expect(new Set(requests.map((r) => r.idempotencyKey)).size).toBe(1);
    expect(requests[0]?.idempotencyKey).toMatch(/^[0-9a-f-]{36}\.[0-9a-z]+$/);
  });

  it('does not retry a non-idempotent call whose outcome is unknown', async () => {
    const c = client({ methods: { transfer: { idempotent: false } } });
    suite.server.enqueue('reset-after-request');
    const error = await c.call('transfer', { amount: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
    expect(suite.server.requests).toHaveLength(1);
    expect(suite.server.requests[0]?.executed).toBe(true);
  });

  it('retries a non-idempotent call when the node advertised X-Hotcold-Dedup', async () => {
    suite.server.setDedup(true);
    const c = client();
    await c.call('transfer', { amount: 1 }); // learns that the node deduplicates
    suite.server.clearRequests();
    suite.server.enqueue('reset-after-request');
    await expect(c.call('transfer', { amount: 2 })).resolves.toBeDefined();
    const requests = suite.server.requests;
    expect(requests.map((r) => r.attempt)).toEqual([1, 2]);
    expect(requests[0]?.idempotencyKey).toBe(requests[1]?.idempotencyKey);
    // The node ran it once; the retry was answered from its dedup memory.
    expect(requests[1]?.outcome).toBe('deduplicated');
  });

  it('retries a non-idempotent call when told serverDeduplicates: true', async () => {
    const c = client({ serverDeduplicates: true });
    suite.server.enqueue('504');
    await expect(c.call('transfer', { amount: 3 })).resolves.toBeDefined();
    expect(suite.server.requests.map((r) => r.attempt)).toEqual([1, 2]);
  });

  it('a caller-supplied Idempotency-Key is sent on every attempt', async () => {
    const c = client({ serverDeduplicates: true });
    suite.server.enqueue('reset-after-request');
    await c.call('startFlow', {}, { idempotencyKey: 'flow-client-id-42' });
    expect(suite.server.requests.map((r) => r.idempotencyKey)).toEqual(['flow-client-id-42', 'flow-client-id-42']);
  });

  it('always retries a connection failure, even for a non-idempotent call, and it was not executed', async () => {
    const c = client({ methods: { transfer: { idempotent: false } } });
    suite.server.enqueue('balancer-503', { mode: 'not-active', retryAfter: '0' }, 'balancer-503');
    await expect(c.call('transfer', { amount: 4 })).resolves.toBeDefined();
    const requests = suite.server.requests.filter((r) => r.mode !== 'ok');
    expect(requests.map((r) => r.executed)).toEqual([false, false, false]);
    expect(suite.server.requests.filter((r) => r.executed)).toHaveLength(1);
  });

  it('retries through connection refused until the server listens again', async () => {
    const c = client({ retry: { maxAttempts: 50, minDelayMs: 5, maxDelayMs: 20 }, methods: { transfer: { idempotent: false } } });
    await suite.server.refuse();
    const pending = c.call('transfer', { amount: 5 });
    await delay(100);
    await suite.server.resume();
    await expect(pending).resolves.toBeDefined();
    expect(suite.server.requests.filter((r) => r.executed)).toHaveLength(1);
  });

  it('does not retry a JSON-RPC error unless the method opted in to its code', async () => {
    const c = client({ methods: { flaky: { retryOnCodes: [-32050] } } });
    suite.server.enqueue({ mode: 'rpc-error', code: -32000, message: 'no' });
    const error = await c.call('plain', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteCallException);
    expect((error as RemoteCallException).code).toBe(-32000);
    expect(suite.server.requests).toHaveLength(1);

    suite.server.clearRequests();
    suite.server.enqueue({ mode: 'rpc-error', code: -32050, message: 'busy' });
    await expect(c.call('flaky', {})).resolves.toBeDefined();
    expect(suite.server.requests).toHaveLength(2);
  });

  it('never retries an authentication failure', async () => {
    const c = client({ methods: { balance: { idempotent: true } } });
    suite.server.enqueue('unauthorized');
    await expect(c.call('balance', {})).rejects.toBeInstanceOf(AuthenticationException);
    expect(suite.server.requests).toHaveLength(1);
  });

  it('gives up after maxAttempts with every attempt as a cause, and emits a retry event per retry', async () => {
    const c = client({ retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 2 }, methods: { balance: { idempotent: true } } });
    const events = record(c.events$);
    // A live node's "maybe" answer (with its headers): a header-less 502 would start an outage.
    await suite.server.setMode({ mode: 'raw', status: 500, body: '{"error":"COMMIT_UNKNOWN"}', headers: { 'content-type': 'application/json' } });
    const error = await c.call('balance', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    const exhausted = error as RetriesExhaustedException;
    expect(exhausted.reason).toBe('attempts');
    expect(exhausted.causes).toHaveLength(3);
    expect(exhausted.causes.every((c) => c instanceof UnknownOutcomeException)).toBe(true);
    expect(suite.server.requests).toHaveLength(3);
    expect(events.of('retry').map((e) => e.attempt)).toEqual([2, 3]);
    expect(events.of('attempt').map((e) => e.attempt)).toEqual([1, 2, 3]);
  });

  it('retry: false on a method means one attempt', async () => {
    const c = client({ methods: { once: { idempotent: true, retry: false } } });
    suite.server.enqueue('balancer-503');
    await expect(c.call('once', {})).rejects.toBeInstanceOf(ConnectionFailureException);
    expect(suite.server.requests).toHaveLength(1);
  });

  it('params that cannot be serialised fail once, not executed, without counting against the breaker', async () => {
    const c = client({ breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000, whenOpen: 'fail' }, methods: { x: { idempotent: true } } });
    const events = record(c.events$);
    const error = await c.call('x', { amount: 1n }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProtocolException);
    expect((error as ProtocolException).mayHaveExecuted).toBe(false);
    expect(suite.server.requests).toHaveLength(0);
    expect(events.of('retry')).toHaveLength(0);
    expect(events.of('breaker-open')).toHaveLength(0);
    await expect(c.call('x', { amount: 1 })).resolves.toBeDefined();
  });

  it('honours Retry-After outside an outage (capped by maxRetryAfterMs)', async () => {
    const c = client({ retry: { ...FAST_RETRY, maxRetryAfterMs: 150 }, maxReconnectAttempts: 1, reconnect: FAST_RECONNECT });
    const events = record(c.events$);
    // Through the balancer the probe keeps failing, so the client ends up in `failed`, where
    // calls go straight to the server and the server's hint sets the pace.
    suite.server.setHealth('standby');
    await suite.server.setMode('balancer-503');
    await c.call('x', {}).catch(() => undefined);
    await until(() => c.state.status === 'failed', 5000, 'failed');
    await suite.server.setMode('ok');
    suite.server.setHealth('active');
    suite.server.enqueue({ mode: 'not-active', retryAfter: '5' });
    const start = performance.now();
    await c.call('x', {});
    expect(performance.now() - start).toBeGreaterThanOrEqual(140);
    expect(events.of('retry').at(-1)?.delayMs).toBe(150);
  });
});
