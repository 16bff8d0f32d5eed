import { describe, expect, it } from 'vitest';
import { Slots } from '../../src/node/slots.js';

/** The share rule of the node's transaction slots (docs/node.md "Transaction slots"), without a database. */
function gate(): { promise: Promise<void>; open(): void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

const never = new AbortController().signal;

describe('Slots', () => {
  it.each([
    [4, 2],
    [5, 2],
    [2, 1],
    [1, 1],
    [Number.POSITIVE_INFINITY, 1],
  ])('with %s slots, feed reads hold at most %s at once', async (limit, share) => {
    const slots = new Slots(limit);
    expect(slots.feedLimit).toBe(share);
    const hold = gate();
    let running = 0;
    let most = 0;
    const feeds = Array.from({ length: 10 }, () =>
      slots.run(
        never,
        async () => {
          running += 1;
          most = Math.max(most, running);
          await hold.promise;
          running -= 1;
        },
        'feed',
      ),
    );
    await Promise.resolve();
    expect(slots.held.feed).toBe(share);
    hold.open();
    await Promise.all(feeds);
    expect(most).toBe(share);
    expect(slots.held).toEqual({ total: 0, feed: 0 });
  });

  it('a call finds a slot while feed reads wait for theirs, and is not queued behind them', async () => {
    const slots = new Slots(4);
    const hold = gate();
    const feeds = Array.from({ length: 50 }, () => slots.run(never, () => hold.promise, 'feed'));
    const order: string[] = [];
    // Two calls run at once beside the two feed reads: the other half of the slots.
    const calls = [slots.run(never, async () => void order.push('call 1')), slots.run(never, async () => void order.push('call 2'))];
    await Promise.all(calls);
    expect(order).toEqual(['call 1', 'call 2']);
    expect(slots.held.feed).toBe(2);
    hold.open();
    await Promise.all(feeds);
  });

  it('the cleanup takes a slot like a call, and waits while every slot is held', async () => {
    const slots = new Slots(1);
    const hold = gate();
    const call = slots.run(never, () => hold.promise);
    let cleaned = false;
    const cleanup = slots.run(
      never,
      async () => {
        cleaned = true;
      },
      'cleanup',
    );
    await new Promise((r) => setImmediate(r));
    expect(cleaned).toBe(false);
    hold.open();
    await Promise.all([call, cleanup]);
    expect(cleaned).toBe(true);
  });

  it('a waiter whose signal aborts leaves the queue and never runs', async () => {
    const slots = new Slots(2);
    const hold = gate();
    const feed = slots.run(never, () => hold.promise, 'feed');
    const controller = new AbortController();
    let ran = false;
    const waiting = slots.run(
      controller.signal,
      async () => {
        ran = true;
      },
      'feed',
    );
    controller.abort(new Error('gone'));
    await expect(waiting).rejects.toThrow('gone');
    hold.open();
    await feed;
    expect(ran).toBe(false);
    expect(slots.held).toEqual({ total: 0, feed: 0 });
  });

  it.each([1, 2, 4])(
    'with %s slot(s), feed reads and a waiting call take turns: the call is not queued behind every waiting feed read',
    async (limit) => {
      const slots = new Slots(limit);
      const order: string[] = [];
      // Hold every slot with calls, so that everything after queues: 30 feed reads, then a call.
      const holds = Array.from({ length: limit }, () => gate());
      const holders = holds.map((h) => slots.run(never, () => h.promise));
      const feeds = Array.from({ length: 30 }, (_, i) => slots.run(never, async () => void order.push(`feed ${i}`), 'feed'));
      const call = slots.run(never, async () => void order.push('call'));
      await Promise.resolve();
      for (const h of holds) h.open();
      await Promise.all([...holders, ...feeds, call]);
      // The freed slots go to the feed reads first in line (up to their share), and the slot the
      // first feed read frees goes to the waiting call: one turn, not 30.
      expect(order.indexOf('call'), order.join(', ')).toBeLessThanOrEqual(slots.feedLimit);
      expect(slots.held).toEqual({ total: 0, feed: 0 });
    },
  );
});
