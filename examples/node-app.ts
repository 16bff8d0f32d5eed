/**
 * A reference node serving a small "orders" application, a standby beside it, and a client that
 * places an order (with an idempotency key), reads the resumable feed, and rides a planned
 * switchover (node A drains, node B takes over, the client retries the NOT_ACTIVE answers).
 *
 *   npx tsx examples/node-app.ts [--db URL]      (default: a SQLite file in a temp directory)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { firstValueFrom, take, toArray } from 'rxjs';
import { createClient } from 'hotcold';
import { createLease, storeFromUrl } from 'hotcold/lease';
import { createNode, invalidParams, type HandlerContext } from 'hotcold/node';
import { startDevBalancer } from 'hotcold/testing';

const { values } = parseArgs({ options: { db: { type: 'string' } } });
const dir = mkdtempSync(path.join(os.tmpdir(), 'hotcold-node-app-'));
const url = values.db ?? `sqlite:${path.join(dir, 'orders.db')}`;

// The application: its writes go through ctx.tx, the request's fenced transaction, so they
// commit together with the idempotency record and the feed event — or not at all.
const handlers = {
  async placeOrder(params: { item?: unknown; qty?: unknown }, ctx: HandlerContext) {
    if (typeof params?.item !== 'string' || typeof params.qty !== 'number') throw invalidParams('need {item: string, qty: number}');
    await ctx.tx.execute('INSERT INTO example_orders (item, qty, token) VALUES (?, ?, ?)', [params.item, params.qty, ctx.token]);
    const seq = await ctx.appendFeed('orders', { item: params.item, qty: params.qty });
    return { accepted: true, seq };
  },
  async countOrders(_params: unknown, ctx: HandlerContext) {
    const rows = await ctx.tx.query<{ n: number | string }>('SELECT COUNT(*) AS n FROM example_orders');
    return Number(rows[0]?.n ?? 0);
  },
};

function startOne(machineName: string) {
  const store = storeFromUrl(url, { table: 'example_node_lease' });
  const lease = createLease({ store, name: 'example-node', machineName, updateInterval: 200, waitInterval: 1000, mode: 'warm' });
  const node = createNode({
    lease,
    port: 0,
    handlers,
    dedup: { table: 'example_idempotency' },
    feeds: { table: 'example_feed' },
  });
  return { store, lease, node };
}

const a = startOne('node-a');
await a.store.transaction((tx) =>
  tx.execute(
    `CREATE TABLE IF NOT EXISTS example_orders (item VARCHAR(100) NOT NULL, qty INTEGER NOT NULL, token ${a.store.dialect === 'sqlite' ? 'INTEGER' : 'BIGINT'} NOT NULL)`,
  ),
);
const addrA = await a.node.start();
await new Promise<void>((resolve) => {
  const sub = a.node.state$.subscribe((s) => {
    if (s.status === 'active') {
      queueMicrotask(() => sub.unsubscribe());
      resolve();
    }
  });
});
const b = startOne('node-b');
const addrB = await b.node.start();
console.log(`node-a ${a.node.status} at ${addrA.url}; node-b ${b.node.status} at ${addrB.url}`);

const balancer = await startDevBalancer({ backends: [addrA.url, addrB.url], checkIntervalMs: 50 });
const client = createClient({
  url: balancer.url,
  retry: { maxAttempts: 30, minDelayMs: 20, maxDelayMs: 200, jitter: 'full' },
  methods: { placeOrder: { idempotent: false }, countOrders: { idempotent: true } },
});

const feed = firstValueFrom(client.feed<{ item: string; qty: number }>('orders', { waitMs: 500 }).pipe(take(3), toArray()));

const first = await client.call('placeOrder', { item: 'apples', qty: 3 }, { idempotencyKey: 'order-1' });
// The same logical call again (a retry after an unknown outcome, say): answered from the record.
const again = await client.call('placeOrder', { item: 'apples', qty: 3 }, { idempotencyKey: 'order-1' });
console.log(`order-1: ${JSON.stringify(first)}; repeated: ${JSON.stringify(again)}`);

// Planned maintenance on node A while orders keep coming.
const placing = (async () => {
  for (const [item, qty] of [['pears', 2], ['plums', 5]] as const) await client.call('placeOrder', { item, qty });
})();
await a.node.stop({ drain: true });
await placing;
console.log(`after drain: node-a ${a.node.status}, node-b ${b.node.status}; orders: ${String(await client.call('countOrders'))}`);

for (const event of await feed) console.log(`feed #${event.seq}: ${event.data.qty} ${event.data.item}`);

await client.close();
await balancer.close();
await b.node.close();
for (const one of [a, b]) {
  await one.lease.close();
  await one.store.close();
}
rmSync(dir, { recursive: true, force: true });
