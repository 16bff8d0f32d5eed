/**
 * A standby's own `503 NOT_ACTIVE` while another node is known to serve. Behind a balancer
 * without health checks (nginx, any plain round robin) calls are offered to the standby as a
 * matter of course: that is a wrong turn of the balancer, not an outage of the serving node. The
 * client checks with one probe and announces nothing unless the probe fails. The real fault
 * server stands in for the balancer; the standby's answer is the one a real standby sends.
 */
import { describe, expect, it } from 'vitest';
import type { ConnectionState, DisconnectInfo, ReconnectInfo } from 'hotcold';
import { FAST_RECONNECT, faultServerSuite, record } from './helpers.js';

const suite = faultServerSuite(
  { retry: { maxAttempts: 6, minDelayMs: 1, maxDelayMs: 5 }, reconnect: FAST_RECONNECT, methods: { transfer: { idempotent: false } } },
  { node: 'node-a', epoch: 4 },
);

/** What a standby answers (src/node/node-answers.ts): its own name, the holder's term. */
const standbyAnswer = (node: string) =>
  ({
    mode: 'raw',
    status: 503,
    nodeHeaders: false,
    headers: { 'content-type': 'application/json', 'x-hotcold-node': node, 'x-hotcold-epoch': '4', 'retry-after': '1' },
    body: JSON.stringify({ error: 'NOT_ACTIVE', status: 'standby', node, epoch: 4, message: 'this node does not hold the lease' }),
  }) as const;

describe('a standby answers while another node serves', () => {
  it('one probe, the call goes through, and no disconnect is announced', async () => {
    const disconnects: DisconnectInfo[] = [];
    const c = suite.client({ onDisconnect: (i) => disconnects.push(i) });
    const events = record(c.events$);
    const states: ConnectionState['status'][] = [];
    c.state$.subscribe((s) => states.push(s.status));
    await c.call('ping', {});
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-a', epoch: 4 });

    const probesBefore = suite.server.healthRequests;
    suite.server.enqueue(standbyAnswer('node-b'));
    await expect(c.call('transfer', { amount: 5 })).resolves.toBeDefined();

    // The standby's refusal was checked with a probe before the call went out again…
    expect(suite.server.healthRequests).toBeGreaterThan(probesBefore);
    // …and the serving node never looked lost to the application.
    expect(events.of('disconnected')).toHaveLength(0);
    expect(events.of('reconnected')).toHaveLength(0);
    expect(events.of('failover')).toHaveLength(0);
    expect(disconnects).toHaveLength(0);
    expect(states).toEqual(['connecting', 'connected']);
    // Refused by the standby (the fault server's raw answer), then sent again once and answered.
    const transfers = suite.server.requests.filter((r) => r.method === 'transfer');
    expect(transfers.map((r) => [r.mode, r.attempt])).toEqual([
      ['raw', 1],
      ['ok', 2],
    ]);
  });

  it('the serving node itself says NOT_ACTIVE: an outage, announced at once', async () => {
    const c = suite.client();
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.enqueue({ mode: 'not-active' });
    await expect(c.call('transfer', { amount: 5 })).resolves.toBeDefined();
    expect(events.of('disconnected')).toHaveLength(1);
    expect(events.of('reconnected')).toHaveLength(1);
  });

  it('a standby answers and the probe finds no service: the outage is announced then', async () => {
    const c = suite.client();
    const events = record(c.events$);
    await c.call('ping', {});
    suite.server.setHealth('standby');
    suite.server.enqueue(standbyAnswer('node-b'));
    const call = c.call('transfer', { amount: 5 });
    // The probe fails: now it is an outage the application hears of.
    while (events.of('disconnected').length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    expect(c.state.status).toBe('reconnecting');
    suite.server.setHealth('active');
    await expect(call).resolves.toBeDefined();
    expect(events.of('disconnected')).toHaveLength(1);
    expect(events.of('reconnected')).toHaveLength(1);
  });
});

/**
 * A real failover whose first sign is a standby's `503 NOT_ACTIVE`. Behind nginx that is the
 * usual first sign of a crash: nginx passes the dead node's refused connect on to the standby,
 * whose own NOT_ACTIVE reaches the client. The client checks with one probe (above); here, by
 * the time of the probe, the standby has taken over: the node the client was settled
 * on is gone and service resumed on another one. DESIGN §3: "failover$ emits when node or epoch
 * changes; reconnected$ when service resumes after an outage"; docs/client.md: `onDisconnect`,
 * `onReconnect`, "reconnected$ ... once per outage. Re-subscribe or re-sync after a gap". Calls
 * were held across the change of node; the monitor itself calls it "a failover happened, so the
 * outage was real" (it frees the held retries from the budget). So it is announced:
 * disconnected, failover, reconnected. (With 5f665a7 alone only `failover` was emitted, with
 * `outageMs: 0`, and an application that re-syncs on `reconnected$` / `onReconnect` never did.)
 */
describe('a failover whose first sign is the standby\'s NOT_ACTIVE', () => {
  it('the standby has taken over by the probe: the outage is announced and ends with reconnected on the new node', async () => {
    const disconnects: DisconnectInfo[] = [];
    const reconnects: ReconnectInfo[] = [];
    const c = suite.client({ onDisconnect: (i) => disconnects.push(i), onReconnect: (i) => reconnects.push(i) });
    const events = record(c.events$);
    const states: ConnectionState['status'][] = [];
    c.state$.subscribe((s) => states.push(s.status));
    await c.call('ping', {});
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-a', epoch: 4 });

    // node-a is gone; node-b's NOT_ACTIVE, sent just before it took over, is the first sign.
    suite.server.enqueue(standbyAnswer('node-b'));
    suite.server.setNode('node-b', 5);
    await expect(c.call('transfer', { amount: 5 })).resolves.toBeDefined();

    expect(events.of('failover')).toHaveLength(1);
    expect(events.of('failover')[0]).toMatchObject({ from: { node: 'node-a', epoch: 4 }, to: { node: 'node-b', epoch: 5 } });
    expect(events.of('disconnected')).toHaveLength(1);
    expect(events.of('reconnected')).toHaveLength(1);
    expect(events.of('reconnected')[0]).toMatchObject({ node: 'node-b', epoch: 5 });
    const order = events.all.map((e) => e.type).filter((t) => t === 'disconnected' || t === 'failover' || t === 'reconnected');
    expect(order).toEqual(['disconnected', 'failover', 'reconnected']);
    expect(disconnects).toEqual([expect.objectContaining({ node: 'node-a', epoch: 4 })]);
    expect(reconnects).toEqual([expect.objectContaining({ node: 'node-b', epoch: 5 })]);
    expect(states).toContain('reconnecting');
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-b', epoch: 5 });
    // Refused by the standby, then sent once more and executed by the new hot node.
    const transfers = suite.server.requests.filter((r) => r.method === 'transfer');
    expect(transfers.map((r) => [r.mode, r.attempt])).toEqual([
      ['raw', 1],
      ['ok', 2],
    ]);
  });
});
