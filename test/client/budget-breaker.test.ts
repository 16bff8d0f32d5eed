/**
 * The client-wide retry budget and the per-backend circuit breaker, as the client composes them.
 */
import { describe, expect, it } from 'vitest';
import {
  CircuitOpenException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  type HotcoldClient,
  type ClientOptions,
} from 'hotcold';
import { FAST_RECONNECT, delay, record, until, faultServerSuite } from './helpers.js';

/**
 * A live node's "maybe" answer (500 COMMIT_UNKNOWN with its headers): retried when idempotent and
 * counted by the breaker, but no outage — the node answered. (A balancer's header-less 502 would
 * start one: then /health decides, see recovery.test.ts.)
 */
const NODE_MAYBE = { mode: 'raw', status: 500, body: '{"error":"COMMIT_UNKNOWN"}', headers: { 'content-type': 'application/json' } } as const;

const suite = faultServerSuite({ retry: { maxAttempts: 10, minDelayMs: 1, maxDelayMs: 2 }, reconnect: FAST_RECONNECT }, { node: 'node-a', epoch: 1 });
const client = (options: Partial<ClientOptions> = {}): HotcoldClient => suite.client(options);

describe('retry budget', () => {
  it('when exhausted: no retry, RetriesExhaustedException with reason budget, one budget-exhausted event', async () => {
    // ratio 0 and one retry per 50 s window (0.02/s): exactly one retry in the window. The window
    // must outlast the test: with 1 s (about 0.9 s of memory, its buckets 0.1 s wide) a loaded
    // machine let the spent retry age out before the second call, which then got one.
    const c = client({ budget: { ratio: 0, minRetriesPerSecond: 0.02, ttlMs: 50_000 }, breaker: false, methods: { read: { idempotent: true } } });
    const events = record(c.events$);
    await suite.server.setMode(NODE_MAYBE);
    const error = await c.call('read', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    expect((error as RetriesExhaustedException).reason).toBe('budget');
    expect((error as RetriesExhaustedException).causes).toHaveLength(2);
    expect((error as RetriesExhaustedException).causes[0]).toBeInstanceOf(UnknownOutcomeException);
    expect(suite.server.requests).toHaveLength(2);
    expect(events.of('budget-exhausted')).toEqual([{ type: 'budget-exhausted', method: 'read', attempt: 2 }]);

    // The next call gets no retry at all while the window remembers the spent one.
    suite.server.clearRequests();
    await expect(c.call('read', {})).rejects.toMatchObject({ reason: 'budget' });
    expect(suite.server.requests).toHaveLength(1);
  });

  it('budget: false never limits retries', async () => {
    const c = client({ budget: false, breaker: false, retry: { maxAttempts: 6, minDelayMs: 1, maxDelayMs: 1 }, methods: { read: { idempotent: true } } });
    await suite.server.setMode(NODE_MAYBE);
    await expect(c.call('read', {})).rejects.toMatchObject({ reason: 'attempts' });
    expect(suite.server.requests).toHaveLength(6);
  });
});

describe('circuit breaker', () => {
  const breaker = { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 300 };

  it('opens on failures, fails fast without sending, half-opens after resetTimeoutMs and closes on a good trial', async () => {
    const c = client({ breaker: { ...breaker, whenOpen: 'fail' }, retry: { maxAttempts: 1 }, methods: { read: { idempotent: true } } });
    const events = record(c.events$);
    await suite.server.setMode(NODE_MAYBE);
    for (let i = 0; i < 3; i++) await c.call('read', {}).catch(() => undefined);
    await until(() => events.of('breaker-open').length === 1, 2000, 'breaker-open');
    const sent = suite.server.requests.length;
    const refused = await c.call('read', {}).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(CircuitOpenException);
    expect((refused as CircuitOpenException).mayHaveExecuted).toBe(false);
    expect(suite.server.requests.length).toBe(sent);

    await suite.server.setMode('ok');
    await until(() => events.of('breaker-half-open').length === 1, 3000, 'breaker-half-open');
    await expect(c.call('read', {})).resolves.toBeDefined();
    expect(events.of('breaker-close')).toHaveLength(1);
    expect(events.of('breaker-close')[0]?.cause).toBe('trial-succeeded');
  });

  it('whenOpen: wait holds the call until the half-open trial instead of failing it', async () => {
    const c = client({ breaker: { ...breaker, whenOpen: 'wait' }, retry: { maxAttempts: 1 }, methods: { read: { idempotent: true } } });
    const events = record(c.events$);
    await suite.server.setMode(NODE_MAYBE);
    for (let i = 0; i < 2; i++) await c.call('read', {}).catch(() => undefined);
    await until(() => events.of('breaker-open').length === 1, 2000, 'breaker-open');
    await suite.server.setMode('ok');
    const sent = suite.server.requests.length;
    const start = performance.now();
    await expect(c.call('read', {})).resolves.toBeDefined();
    // It waited for the reset timeout, then was the half-open trial.
    expect(performance.now() - start).toBeGreaterThan(100);
    expect(suite.server.requests.length).toBe(sent + 1);
    expect(events.of('breaker-close')).toHaveLength(1);
  });

  it("a node's NOT_ACTIVE answers do not open the breaker: the node is alive and redirecting", async () => {
    const c = client({ breaker: { ...breaker, whenOpen: 'fail' }, retry: { maxAttempts: 1 }, methods: { read: { idempotent: true } } });
    const events = record(c.events$);
    await suite.server.setMode('not-active');
    // Concurrent, so every call is on the wire before the first NOT_ACTIVE puts the client into
    // reconnecting (which would hold the rest).
    await Promise.all(Array.from({ length: 6 }, () => c.call('read', {}).catch(() => undefined)));
    expect(suite.server.requests.length).toBeGreaterThanOrEqual(6);
    await suite.server.setMode('ok');
    suite.server.setHealth('active');
    await until(() => c.state.status === 'connected', 3000, 'connected');
    await expect(c.call('read', {})).resolves.toBeDefined();
    expect(events.of('breaker-open')).toHaveLength(0);
  });

  it('a failover resets the breaker: the new node is not punished for the old one', async () => {
    const c = client({
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
      retry: { maxAttempts: 1 },
      methods: { transfer: { idempotent: false } },
    });
    const events = record(c.events$);
    await c.call('transfer', {});
    suite.server.setHealth('standby');
    await suite.server.setMode('balancer-503');
    await c.call('transfer', {}).catch(() => undefined);
    await until(() => events.of('breaker-open').length === 1, 2000, 'breaker-open');
    expect(c.state.status).toBe('reconnecting');

    // The standby takes over: its first healthy probe carries a new identity.
    const start = performance.now();
    suite.server.setNode('node-b', 2);
    await suite.server.setMode('ok');
    suite.server.setHealth('active');
    await until(() => c.state.status === 'connected', 3000, 'connected');
    await expect(c.call('transfer', {})).resolves.toBeDefined();
    expect(performance.now() - start).toBeLessThan(10_000); // far below resetTimeoutMs
    const close = events.of('breaker-close');
    expect(close).toHaveLength(1);
    expect(close[0]).toMatchObject({ cause: 'identity-changed', node: 'node-b', epoch: 2 });
    const order = events.all.map((e) => e.type).filter((t) => t === 'breaker-open' || t === 'failover' || t === 'breaker-close');
    expect(order).toEqual(['breaker-open', 'breaker-close', 'failover']);
    await delay(1);
  });
});
