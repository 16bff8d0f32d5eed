/**
 * Issue 8 §3, "recovery holds every call of the outage", against the real fault server standing
 * in for balancer and node. The outage is a node's own `503 NOT_ACTIVE` (with node headers), which
 * is "not executed" under every classification rule, and `/health` saying standby.
 *
 * Counts and outcomes only: no assertion here depends on how fast the machine is.
 */
import { describe, expect, it } from 'vitest';
import { RetriesExhaustedException, type ClientOptions, type HotcoldClient } from 'hotcold';
import { FAST_RECONNECT, delay, record, until, faultServerSuite } from './helpers.js';

const suite = faultServerSuite(
  {
    retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: FAST_RECONNECT,
    methods: { transfer: { idempotent: false }, read: { idempotent: true } },
  },
  { node: 'node-a', epoch: 1 },
);
const client = (options: Partial<ClientOptions> = {}): HotcoldClient => suite.client(options);

/** A bound no healthy run reaches, however loaded the machine: only a hang runs into it. */
const NO_BOUND_MS = 240_000;

async function endOutage(node = 'node-b', epoch = 2): Promise<void> {
  suite.server.setNode(node, epoch);
  await suite.server.setMode('ok');
  suite.server.setHealth('active');
}

/** Requests sent per Idempotency-Key (one key per logical call). */
function attemptsPerCall(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const r of suite.server.requests) {
    if (r.idempotencyKey !== undefined) counts.set(r.idempotencyKey, (counts.get(r.idempotencyKey) ?? 0) + 1);
  }
  return counts;
}

describe('recovery holds every call of the outage', () => {
  it('retries held for the outage do not draw from the budget: 300 concurrent calls all succeed, each with one attempt after recovery', async () => {
    // The default budget: 0.2 × calls + 10/s × 10 s. Charged per held retry, it let 160 of the
    // 300 through and failed the other 140 with RetriesExhausted('budget') at recovery.
    //
    // Client and fault server share this process: each burst of 300 exchanges is ~0.6 s of CPU
    // in it, and every attempt of a burst waits for nearly all of it. On a loaded machine the
    // process gets a small share of a core (event-loop stalls of 1–4 s measured at load 15) and
    // an attempt, a probe or the call's deadline would run out: a non-idempotent call that
    // times out is UnknownOutcome and fails the count for a reason that is not this test's. So
    // no clock of the client can bind here; the test's own timeout guards against a hang.
    const c = client({ timeoutMs: NO_BOUND_MS, deadlineMs: NO_BOUND_MS, reconnect: { ...FAST_RECONNECT, probeTimeoutMs: NO_BOUND_MS } });
    const events = record(c.events$);
    await c.call('ping', {});
    await suite.server.setMode('not-active');
    const calls = Array.from({ length: 300 }, (_, i) => c.call('transfer', { i }).then(() => 'ok', (e: unknown) => e));
    // Every call's first attempt has failed and its retry was decided while the outage held
    // calls (a retry decided outside it would pay, whatever the hold does), and a probe failed:
    // the outage is confirmed, so held retries are free.
    await until(() => events.of('retry').filter((e) => e.method === 'transfer').length >= 300, NO_BOUND_MS, 'all 300 retries held');
    await until(() => c.state.status === 'reconnecting', NO_BOUND_MS, 'reconnecting');
    await endOutage();
    const outcomes = await Promise.all(calls);
    const failed = outcomes.filter((o) => o !== 'ok');
    expect(failed.map((e) => (e instanceof RetriesExhaustedException ? `budget? ${e.reason}` : String(e))).slice(0, 3)).toEqual([]);
    expect(events.of('budget-exhausted')).toHaveLength(0);
    // Each call: its one rejected attempt, then exactly one after recovery.
    const counts = [...attemptsPerCall().entries()].filter(([, n]) => n > 0);
    const transfers = suite.server.requests.filter((r) => r.method === 'transfer');
    expect(transfers.filter((r) => r.mode === 'ok')).toHaveLength(300);
    expect(Math.max(...counts.map(([, n]) => n))).toBeLessThanOrEqual(2);
  }, NO_BOUND_MS + 60_000);

  it('retries of not-executed failures made outside an outage still draw from the budget', async () => {
    // One retry per 10 s window (ratio 0, 0.1/s): enough to tell a charged retry from a free one.
    const c = client({ budget: { ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 }, breaker: false, maxReconnectAttempts: 1 });
    await c.call('ping', {});
    await suite.server.setMode('not-active');
    // Held for the outage, then given up after one probe: its retry was paced by the hold, free.
    const first = await c.call('transfer', {}).catch((e: unknown) => e);
    expect(first).toMatchObject({ kind: 'retries-exhausted', reason: 'reconnect' });
    expect(c.state.status).toBe('failed');
    // After the give-up calls go straight to the backend: their retries are not held, and the
    // budget's one retry is spent on the first of them.
    const error = await c.call('transfer', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    expect((error as RetriesExhaustedException).reason).toBe('budget');
    expect((error as RetriesExhaustedException).causes).toHaveLength(2);
  });

  it('give-up reaches calls sleeping in their backoff: they end RetriesExhausted(reconnect) and send nothing more', async () => {
    const failures: number[] = [];
    const c = client({
      maxReconnectAttempts: 3,
      breaker: false,
      // A long backoff, so the calls are certainly asleep in it when the client gives up.
      retry: { maxAttempts: 20, minDelayMs: 3000, maxDelayMs: 3000, jitter: 'none' },
      methods: { read: { idempotent: true, retryOnCodes: [-32000] } },
      deadlineMs: 20_000,
      onPermanentFailure: () => failures.push(suite.server.requests.length),
    });
    await c.call('ping', {});
    // Three calls get an error code they retry on (the node answered: no outage) and go to
    // sleep in their backoff.
    await suite.server.setMode('rpc-error');
    const sleeping = [1, 2, 3].map((n) => c.call('read', { n }).catch((e: unknown) => e));
    await until(() => suite.server.requests.filter((r) => r.mode === 'rpc-error').length >= 3, 5000, 'three errors');
    expect(c.state.status).toBe('connected');
    // Then the node says NOT_ACTIVE forever: an outage the client gives up after 3 probes.
    await suite.server.setMode('not-active');
    const held = c.call('transfer', {}).catch((e: unknown) => e);
    await until(() => failures.length === 1, 10_000, 'permanent failure');
    const sentAtGiveUp = failures[0] as number;
    const errors = await Promise.all([...sleeping, held]);
    for (const error of errors) {
      expect(error).toBeInstanceOf(RetriesExhaustedException);
      expect((error as RetriesExhaustedException).reason).toBe('reconnect');
    }
    // The sleepers' calls ran (the node answered an error); the held one certainly did not.
    expect((errors[3] as RetriesExhaustedException).mayHaveExecuted).toBe(false);
    // Each sleeper's cause is its own error, once: no wrapper nested in a wrapper.
    expect((errors[0] as RetriesExhaustedException).causes.map((e) => e.kind)).toEqual(['remote-call']);
    expect(suite.server.requests.length).toBe(sentAtGiveUp);
  });

  it('give-up reaches calls waiting for an open breaker: they end RetriesExhausted(reconnect), not at their deadline', async () => {
    const failures: number[] = [];
    const c = client({
      maxReconnectAttempts: 3,
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 60_000, whenOpen: 'wait' },
      retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 2 },
      deadlineMs: 30_000,
      onPermanentFailure: () => failures.push(suite.server.requests.length),
    });
    const events = record(c.events$);
    await c.call('ping', {});
    // A call hangs on the node...
    suite.server.enqueue('stall');
    const hung = c.call('slow', {}).catch((e: unknown) => e);
    await suite.server.nextRequest();
    // ...meanwhile the node answers "maybe" 500s with its headers (no outage): the breaker opens
    // and the retries wait for it...
    await suite.server.setMode({ mode: 'raw', status: 500, body: '{"error":"COMMIT_UNKNOWN"}', headers: { 'content-type': 'application/json' } });
    const waiting = [1, 2, 3].map((n) => c.call('read', { n }).catch((e: unknown) => e));
    await until(() => events.of('breaker-open').length === 1, 5000, 'breaker-open');
    // ...then the node is gone: the hung call's connection is cut (an outage), probes are refused.
    await suite.server.refuse();
    await until(() => failures.length === 1, 10_000, 'permanent failure');
    await suite.server.resume();
    const sentAtGiveUp = suite.server.requests.length;
    const errors = await Promise.all(waiting);
    for (const error of errors) {
      expect(error).toBeInstanceOf(RetriesExhaustedException);
      expect((error as RetriesExhaustedException).reason).toBe('reconnect');
    }
    await hung;
    expect(suite.server.requests.length).toBe(sentAtGiveUp);
  });

  it('a reset after the request was written holds the retry until a probe succeeded: no second attempt goes out into the outage', async () => {
    const c = client({ breaker: false });
    await c.call('ping', {});
    // The hot node dies with 20 idempotent calls in flight: each sees its connection cut after
    // the request went out ("maybe", no node headers), and the node behind answers NOT_ACTIVE.
    suite.server.enqueue(...Array.from({ length: 20 }, () => 'reset-after-request' as const));
    await suite.server.setMode('not-active');
    const calls = Array.from({ length: 20 }, (_, n) => c.call('read', { n }));
    await until(() => c.state.status === 'reconnecting', 5000, 'reconnecting');
    await until(() => suite.server.requests.filter((r) => r.mode === 'reset-after-request').length >= 20, 5000, 'twenty resets');
    await delay(200);
    const beforeRecovery = attemptsPerCall();
    await endOutage();
    await Promise.all(calls);
    // Until a probe succeeded, each call had sent its first attempt and nothing more.
    expect([...beforeRecovery.values()].filter((n) => n > 1)).toEqual([]);
    const after = [...attemptsPerCall().entries()].filter(([, n]) => n > 0).map(([, n]) => n);
    expect(after.filter((n) => n > 2)).toEqual([]);
  });

  it('an "outage" whose first probe succeeds (a blip) does not pace retries: they pay the budget', async () => {
    // A proxy's header-less 502s while /health through it says fine: every failure starts an
    // outage that the first probe ends. Unbudgeted, such retries would go at the rate of probes.
    const c = client({ budget: { ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 }, breaker: false });
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.enqueue('502', '502', '502');
    const error = await c.call('read', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RetriesExhaustedException);
    expect((error as RetriesExhaustedException).reason).toBe('budget');
    expect(suite.server.requests.filter((r) => r.mode === '502')).toHaveLength(2);
    // Each 502 held the retry for a probe, which found the path fine: nothing was announced.
    expect(events.of('disconnected')).toHaveLength(0);
    expect(suite.server.healthRequests).toBeGreaterThanOrEqual(2);
  });

  it('an attempt that ran into its own timeout does not start an outage: a slow node is not a lost one', async () => {
    const c = client({ breaker: false, retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 } });
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.enqueue('stall');
    await expect(c.call('read', {}, { timeoutMs: 200 })).resolves.toBeDefined();
    expect(events.of('disconnected')).toHaveLength(0);
    expect(c.state.status).toBe('connected');
  });

  it('a failover found by the first probe confirms the outage: the held retries stay free', async () => {
    // The standby took over before the client's first probe: no probe failed, but the identity
    // changed, so the 502s were a real failover, not a flaky proxy. One retry in the budget.
    const c = client({ budget: { ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 }, breaker: false });
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.enqueue('502', '502', '502');
    suite.server.setNode('node-b', 2);
    const outcomes = await Promise.all([1, 2, 3].map((n) => c.call('read', { n }).then(() => 'ok', (e: unknown) => e)));
    expect(outcomes).toEqual(['ok', 'ok', 'ok']);
    expect(events.of('failover')).toHaveLength(1);
    expect(events.of('budget-exhausted')).toHaveLength(0);
  });
});
