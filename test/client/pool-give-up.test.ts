/**
 * Address pool after the give-up. `maxReconnectAttempts` probes found no active member (node A
 * died, node B had not taken over yet); then B takes over. docs/client.md: after the give-up
 * "calls started after the give-up go straight to the backend again; the first answer makes the
 * state connected", and in a pool "a connection failure or NOT_ACTIVE there makes the client
 * probe every member's /health at once and move to the one that says active". The member the
 * client was on is dead for good: a call that can only ever reach it never gets an answer.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type HotcoldClient } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import { FAST_RECONNECT } from './helpers.js';

const servers: FaultServer[] = [];
const clients: HotcoldClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** Node A serving, node B a standby, and a client on the pool of both that gives up after two probes. */
async function pool(methods: ClientOptions['methods']): Promise<{ a: FaultServer; b: FaultServer; c: HotcoldClient }> {
  const a = await startFaultServer({ node: 'node-a', epoch: 1 });
  const b = await startFaultServer({ node: 'node-b', epoch: 1, health: 'standby', mode: 'not-active' });
  servers.push(a, b);
  const c = createClient({
    url: [a.url, b.url],
    retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: FAST_RECONNECT,
    maxReconnectAttempts: 2,
    methods,
  });
  clients.push(c);
  return { a, b, c };
}

describe('address pool, after giving up', () => {
  it('the member the client was on is dead for good and the other took over: calls reach the new active member', async () => {
    const { a, b, c } = await pool({ read: { idempotent: true } });
    await c.call('read', { n: 1 });

    // Node A dies; node B has not taken over yet: two failed probes, the client gives up.
    await a.refuse();
    await expect(c.call('read', { n: 2 })).rejects.toMatchObject({ kind: 'retries-exhausted', reason: 'reconnect' });
    expect(c.state.status).toBe('failed');

    // Now node B takes over. Node A stays dead.
    b.setNode('node-b', 2);
    b.setHealth('active');
    await b.setMode('ok');

    const outcomes: string[] = [];
    for (let i = 0; i < 3; i++) {
      outcomes.push(await c.call('read', { n: 10 + i }).then(() => 'ok', (e: unknown) => (e instanceof Error ? e.message : String(e))));
    }
    expect(outcomes).toEqual(['ok', 'ok', 'ok']);
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-b', epoch: 2 });
  });
  it('the member the client was on stands by now (NOT_ACTIVE) and the other serves: calls reach the active member', async () => {
    const { a, b, c } = await pool({ transfer: { idempotent: false } });
    await c.call('transfer', { n: 1 });

    // Node A loses the lease, nobody holds it for a while: the client gives up.
    a.setHealth('standby');
    await a.setMode({ mode: 'not-active', retryAfter: '0' });
    await expect(c.call('transfer', { n: 2 })).rejects.toMatchObject({ kind: 'retries-exhausted', reason: 'reconnect' });

    b.setNode('node-b', 2);
    b.setHealth('active');
    await b.setMode('ok');
    await expect(c.call('transfer', { n: 3 })).resolves.toBeDefined();
    expect(b.requests.filter((r) => r.executed)).toHaveLength(1);
    expect(a.requests.filter((r) => r.executed)).toHaveLength(1);
    expect(c.state).toMatchObject({ status: 'connected', node: 'node-b', epoch: 2 });
  });
});
