/**
 * Address pool, two real servers taking turns as the active node (A → B → A → B, a new epoch each
 * time) with breakers on and keyed calls in flight across every switch: the success path's
 * shortcuts (the settled-connection check, the closed permit of the last-used breaker) must
 * follow each move; every call succeeds and runs exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type HotcoldClient } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import { FAST_RECONNECT } from './helpers.js';

const servers: FaultServer[] = [];
const clients: HotcoldClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

describe('address pool, members alternating', () => {
  it('every keyed call across four switches succeeds once; the client ends on the last active member', async () => {
    const a = await startFaultServer({ node: 'node-a', epoch: 1 });
    const b = await startFaultServer({ node: 'node-b', epoch: 1, health: 'standby', mode: 'not-active' });
    servers.push(a, b);
    const c = createClient({
      url: [a.url, b.url],
      retry: { maxAttempts: 20, minDelayMs: 1, maxDelayMs: 5 },
      reconnect: FAST_RECONNECT,
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 200 },
      deadlineMs: 20_000,
      methods: { transfer: { idempotent: false } },
    });
    clients.push(c);
    const keys: string[] = [];
    const calls: Promise<unknown>[] = [];
    const batch = (round: number): void => {
      for (let i = 0; i < 6; i++) {
        const key = `r${round}-${i}`;
        keys.push(key);
        calls.push(c.call('transfer', { key }, { idempotencyKey: key }));
      }
    };
    let epoch = 1;
    const order: Array<[FaultServer, FaultServer, string]> = [
      [a, b, 'node-b'],
      [b, a, 'node-a'],
      [a, b, 'node-b'],
      [b, a, 'node-a'],
    ];
    batch(0);
    await Promise.all(calls);
    for (const [round, [from, to, name]] of order.entries()) {
      batch(round + 1); // in flight while the switch happens
      from.setHealth('standby');
      await from.setMode({ mode: 'not-active', retryAfter: '1' });
      epoch += 1;
      to.setNode(name, epoch);
      to.setHealth('active');
      await to.setMode('ok');
      batch(round + 10);
      await Promise.all(calls);
    }
    const executed = [...a.requests, ...b.requests].filter((r) => r.executed);
    expect(executed).toHaveLength(keys.length);
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-a', epoch });
  }, 60_000);
});
