/**
 * The connection state machine with a real client and the real fault server standing in for the
 * balancer: an outage is "balancer 503 and /health says standby", recovery is "/health active".
 */
import { describe, expect, it } from 'vitest';
import { firstValueFrom, toArray } from 'rxjs';
import {
  PendingLimitException,
  RetriesExhaustedException,
  createClient,
  type ConnectionState,
  type DisconnectInfo,
  type HotcoldClient,
  type PermanentFailureInfo,
  type ReconnectInfo,
  type ClientOptions,
} from 'hotcold';
import { startFaultServer } from 'hotcold/testing';
import { FAST_RECONNECT, delay, record, until, faultServerSuite } from './helpers.js';

const suite = faultServerSuite({
  retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 5 },
  reconnect: FAST_RECONNECT,
  methods: { transfer: { idempotent: false } },
}, { node: 'node-a', epoch: 1 });
const client = (options: Partial<ClientOptions> = {}): HotcoldClient => suite.client(options);

async function startOutage(): Promise<void> {
  suite.server.setHealth('standby');
  await suite.server.setMode('balancer-503');
}

async function endOutage(node = 'node-b', epoch = 2): Promise<void> {
  suite.server.setNode(node, epoch);
  await suite.server.setMode('ok');
  suite.server.setHealth('active');
}

describe('connection state machine', () => {
  it('goes connecting → connected and replays the current state to late subscribers', async () => {
    const c = client();
    expect(c.state.status).toBe('connecting');
    await c.call('ping', {});
    const replayed = await firstValueFrom(c.state$);
    expect(replayed).toMatchObject({ status: 'connected', node: 'node-a', epoch: 1 });
    expect(typeof replayed.since).toBe('number');
  });

  it('one outage with many concurrent callers: exactly one disconnected and one reconnected, calls held then released', async () => {
    const disconnects: DisconnectInfo[] = [];
    const reconnects: ReconnectInfo[] = [];
    const c = client({ onDisconnect: (i) => disconnects.push(i), onReconnect: (i) => reconnects.push(i) });
    const events = record(c.events$);
    const states: ConnectionState[] = [];
    c.state$.subscribe((s) => states.push(s));
    await c.call('ping', {});

    await startOutage();
    const calls = Array.from({ length: 40 }, (_, i) => c.call('transfer', { i }));
    await until(() => c.state.status === 'reconnecting', 5000, 'reconnecting');
    // Held calls wait in the client instead of hammering the balancer: one burst of first
    // attempts, then only health probes — no call sends a second attempt before a probe
    // succeeded, not even those whose first one was in flight when the outage began.
    // The window is counted in probes, not in ms: a call retrying instead of waiting would resend
    // within its 1-5 ms backoff, and 10 failed probes (5-20 ms apart) span over 10 such backoffs
    // however loaded the machine.
    const probesBefore = suite.server.healthRequests;
    await until(() => suite.server.healthRequests >= probesBefore + 10, 10_000, '10 failed probes');
    const rejected = suite.server.requests.filter((r) => r.mode === 'balancer-503');
    expect(rejected.length).toBeLessThanOrEqual(40);
    // Each call (told apart by its params) was sent to the outage at most once.
    const sentPerCall = new Map<number, number>();
    for (const r of rejected) {
      const i = (r.params as { i: number }).i;
      sentPerCall.set(i, (sentPerCall.get(i) ?? 0) + 1);
    }
    expect([...sentPerCall.values()].filter((n) => n > 1)).toEqual([]);
    expect(rejected.every((r) => r.method === 'transfer' && (r.attempt ?? 1) === 1)).toBe(true);

    await endOutage();
    // Released by a probe that saw service (one reconnected event below); a held call not
    // released would end only at its 30 s deadline, failing. How soon after the recovery is a
    // speed claim (bench/failover.ts).
    const results = await Promise.all(calls);
    expect(results).toHaveLength(40);

    expect(events.of('disconnected')).toHaveLength(1);
    expect(events.of('reconnected')).toHaveLength(1);
    expect(disconnects).toHaveLength(1);
    expect(reconnects).toHaveLength(1);
    expect(reconnects[0]?.outageMs).toBeGreaterThan(0);
    expect(reconnects[0]).toMatchObject({ node: 'node-b', epoch: 2 });
    expect(states.map((s) => s.status)).toEqual(['connecting', 'connected', 'reconnecting', 'connected']);
    // Every transfer ran exactly once: a 503 from the balancer is "not executed".
    expect(suite.server.requests.filter((r) => r.method === 'transfer' && r.executed)).toHaveLength(40);
  });

  it('a slow answer to a request sent before the outage does not end it', async () => {
    const c = client();
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.enqueue({ mode: 'ok', delayMs: 300 });
    const slow = c.call('slow', {});
    await suite.server.nextRequest();
    await startOutage();
    const held = c.call('transfer', {});
    await until(() => c.state.status === 'reconnecting');
    await slow;
    await delay(50);
    expect(c.state.status).toBe('reconnecting');
    await endOutage();
    await held;
    expect(events.of('disconnected')).toHaveLength(1);
    expect(events.of('reconnected')).toHaveLength(1);
  });

  it('emits failover$ with the old and new identity and the outage length', async () => {
    const c = client();
    const failovers = firstValueFrom(c.failover$);
    const reconnected = firstValueFrom(c.reconnected$);
    await c.call('ping', {});
    await startOutage();
    const call = c.call('transfer', {});
    await until(() => c.state.status === 'reconnecting');
    await delay(30);
    await endOutage('node-b', 7);
    await call;
    const failover = await failovers;
    expect(failover.from).toEqual({ node: 'node-a', epoch: 1 });
    expect(failover.to).toEqual({ node: 'node-b', epoch: 7 });
    expect(failover.outageMs).toBeGreaterThan(0);
    expect((await reconnected).outageMs).toBeGreaterThanOrEqual(failover.outageMs);
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-b', epoch: 7 });
  });

  it('detects a failover from answers alone, and ignores a late answer from the deposed node', async () => {
    const c = client();
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.setNode('node-b', 2);
    await c.call('ping', {});
    suite.server.setNode('node-a', 1); // a stale answer: lower fencing token
    await c.call('ping', {});
    expect(events.of('failover')).toHaveLength(1);
    expect(c.state).toMatchObject({ node: 'node-b', epoch: 2 });
  });

  it('maxPending bounds the calls held during an outage', async () => {
    const c = client({ maxPending: 3 });
    await c.call('ping', {});
    await startOutage();
    const first = c.call('transfer', { n: 0 });
    await until(() => c.state.status === 'reconnecting');
    const held = [1, 2].map((n) => c.call('transfer', { n }));
    await delay(30);
    const refused = await c.call('transfer', { n: 9 }).catch((e: unknown) => e);
    const more = await c.call('transfer', { n: 10 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PendingLimitException);
    expect(more).toBeInstanceOf(PendingLimitException);
    expect((refused as PendingLimitException).mayHaveExecuted).toBe(false);
    await endOutage();
    await expect(Promise.all([first, ...held])).resolves.toHaveLength(3);
  });

  it('maxReconnectAttempts spent: one permanent failure, held calls fail, later calls go straight through', async () => {
    const failures: PermanentFailureInfo[] = [];
    const c = client({ maxReconnectAttempts: 3, onPermanentFailure: (i) => failures.push(i) });
    const events = record(c.events$);
    await c.call('ping', {});
    await startOutage();
    const calls = [1, 2, 3].map((n) => c.call('transfer', { n }).catch((e: unknown) => e));
    const errors = await Promise.all(calls);
    for (const error of errors) {
      expect(error).toBeInstanceOf(RetriesExhaustedException);
      expect((error as RetriesExhaustedException).reason).toBe('reconnect');
      expect((error as RetriesExhaustedException).mayHaveExecuted).toBe(false);
    }
    expect(c.state.status).toBe('failed');
    expect(events.of('permanent-failure')).toHaveLength(1);
    expect(events.of('disconnected')).toHaveLength(1);
    expect(failures).toHaveLength(1);
    expect(failures[0]?.attempts).toBe(3);
    await endOutage();
    await expect(c.call('ping', {})).resolves.toBeDefined();
    expect(c.state.status).toBe('connected');
    expect(events.of('permanent-failure')).toHaveLength(1);
  });

  it('a plain JSON-RPC server without /health still counts as reachable through a balancer', async () => {
    const plain = await startFaultServer({ healthPath: '/no-such-health-endpoint' });
    const c = createClient({ url: plain.url, reconnect: FAST_RECONNECT, retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 2 } });
    try {
      plain.enqueue('balancer-503');
      await expect(c.call('ping', {})).resolves.toBeDefined();
      expect(c.state.status).toBe('connected');
    } finally {
      await c.close();
      await plain.close();
    }
  });

  it('state$, events$, failover$ and reconnected$ complete on close', async () => {
    const c = client();
    const all = Promise.all([
      firstValueFrom(c.state$.pipe(toArray())),
      firstValueFrom(c.events$.pipe(toArray())),
      firstValueFrom(c.failover$.pipe(toArray())),
      firstValueFrom(c.reconnected$.pipe(toArray())),
    ]);
    await c.call('ping', {});
    await c.close();
    const [states] = await all;
    expect(states.at(-1)?.status).toBe('closed');
  });
});
