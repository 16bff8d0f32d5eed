/**
 * A real failover whose first sign is a standby's `503 NOT_ACTIVE`. Behind nginx that is the
 * usual first sign of a crash: nginx passes the dead node's refused connect on to the standby,
 * whose own NOT_ACTIVE reaches the client. The client checks with one probe (standby-answer.test.ts);
 * here, by the time of the probe, the standby has taken over: the node the client was settled
 * on is gone and service resumed on another one. DESIGN §3: "failover$ emits when node or epoch
 * changes; reconnected$ when service resumes after an outage"; docs/client.md: `onDisconnect`,
 * `onReconnect`, "reconnected$ ... once per outage. Re-subscribe or re-sync after a gap". Calls
 * were held across the change of node; the monitor itself calls it "a failover happened, so the
 * outage was real" (it frees the held retries from the budget). Before 5f665a7 this sequence was
 * announced (disconnected, failover, reconnected); with it only `failover` is emitted, with
 * `outageMs: 0`, and an application that re-syncs on `reconnected$` / `onReconnect` never does.
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
