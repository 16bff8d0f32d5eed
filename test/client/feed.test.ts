/** client.feed() delegates to the resumable feed and keeps its place across a failover. */
import { firstValueFrom, take, toArray } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError, ProtocolException, createClient, type HotcoldClient, type RemoteCallException } from 'hotcold';
import { FaultRpcError, startFaultServer, type FaultServer } from 'hotcold/testing';
import { FEED_METHOD } from '../../src/wire.js';

let server: FaultServer;
let client: HotcoldClient;

beforeAll(async () => {
  server = await startFaultServer({ node: 'node-a', epoch: 1 });
  server.setHandler((method, params) => {
    if (method !== FEED_METHOD) return null;
    const { after, max } = params as { after: number; max: number };
    const items = Array.from({ length: Math.min(max, 3) }, (_, i) => ({ seq: after + i + 1, data: `item-${after + i + 1}` }));
    return { items, last: after + items.length };
  });
  client = createClient({ url: server.url, retry: { maxAttempts: 10, minDelayMs: 1, maxDelayMs: 5 }, reconnect: { minDelayMs: 5, maxDelayMs: 20 } });
});

afterAll(async () => {
  await client.close();
  await server.close();
});

describe('client.feed', () => {
  it('delivers items in order from `after`, through an outage and a lost answer, with no gap or duplicate', async () => {
    server.enqueue('ok', 'balancer-503', 'reset-after-request');
    const items = await firstValueFrom(client.feed<string>('updates', { after: 10, max: 2 }).pipe(take(6), toArray()));
    expect(items.map((i) => i.seq)).toEqual([11, 12, 13, 14, 15, 16]);
    expect(items[0]?.data).toBe('item-11');
    expect(server.requests.every((r) => r.method === FEED_METHOD)).toBe(true);
  });

  it('checks its arguments when called, and polls nothing before a subscription', () => {
    expect(() => client.feed('', {})).toThrow(ConfigurationError);
    server.clearRequests();
    client.feed('updates', { after: 0 });
    expect(server.requests).toHaveLength(0);
  });
});

describe('client.feed against a node that breaks the contract', () => {
  it('errors the Observable on a malformed answer instead of polling forever', async () => {
    const bad = await startFaultServer();
    bad.setHandler(() => ({ items: 'not a list' }));
    const c = createClient({ url: bad.url, retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 } });
    try {
      const error = await firstValueFrom(c.feed('updates', { after: 0 })).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ProtocolException);
      expect(bad.requests).toHaveLength(1);
    } finally {
      await c.close();
      await bad.close();
    }
  });

  it('keeps polling through an internal error (a failed read), but stops on a refusal', async () => {
    const flaky = await startFaultServer();
    let polls = 0;
    flaky.setHandler(() => {
      polls += 1;
      if (polls === 1) throw new FaultRpcError(-32603, 'feed read failed');
      if (polls === 2) return { items: [{ seq: 1, data: 'one' }], last: 1 };
      throw new FaultRpcError(-32602, 'no such feed');
    });
    const c = createClient({ url: flaky.url, retry: { maxAttempts: 1 } });
    try {
      const seen: number[] = [];
      const error = await new Promise<unknown>((resolve) => {
        c.feed('updates', { after: 0 }, { retryDelayMs: 1 }).subscribe({ next: (i) => seen.push(i.seq), error: resolve, complete: () => resolve(undefined) });
      });
      expect(seen).toEqual([1]);
      expect((error as RemoteCallException).code).toBe(-32602);
    } finally {
      await c.close();
      await flaky.close();
    }
  });
});
