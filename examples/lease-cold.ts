/**
 * Cold mode (Corda's hot-cold): a node takes the lease when started, does work only while it holds
 * it, fences every write with its token in the same transaction, and releases it on shutdown.
 *
 *   npx tsx examples/lease-cold.ts [--db URL]      (default: a SQLite file in the temp directory)
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLease, FencingError, storeFromUrl } from 'hotcold/lease';

const { values } = parseArgs({ options: { db: { type: 'string' } } });
const store = storeFromUrl(values.db ?? `sqlite:${path.join(os.tmpdir(), 'hotcold-example-lease.db')}`, { table: 'example_lease' });
await store.transaction(async (tx) => {
  await tx.execute('CREATE TABLE IF NOT EXISTS example_counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)');
});

const lease = createLease({ store, machineName: os.hostname(), updateInterval: 200, waitInterval: 600, mode: 'cold' });
lease.events$.subscribe((e) => {
  if (e.type !== 'renewed') console.log('event', e);
});

const held = await lease.acquire();
console.log(`active with fencing token ${held.token} as ${lease.holderId}`);

for (let i = 0; i < 5 && held.isValid(); i += 1) {
  // Every write that only the hot node may make: check the token in the same transaction.
  await store.transaction(async (tx) => {
    await lease.assertHeld(tx, held.token);
    const rows = await tx.query<{ n: number }>('SELECT n FROM example_counter WHERE id = 1');
    const n = Number(rows[0]?.n ?? 0) + 1;
    if (rows.length === 0) await tx.execute('INSERT INTO example_counter (id, n) VALUES (1, ?)', [n]);
    else await tx.execute('UPDATE example_counter SET n = ? WHERE id = 1', [n]);
    console.log(`write ${i + 1}: counter = ${n} (token ${held.token})`);
  });
  await new Promise((resolve) => setTimeout(resolve, 150));
}

// A stale token is refused by the database itself, whatever the node believes.
try {
  await store.transaction((tx) => lease.assertHeld(tx, held.token - 1));
} catch (error) {
  if (error instanceof FencingError) console.log(`stale token refused: ${error.message}`);
}

await lease.release(); // planned: a standby may take over at once
console.log('released; signal aborted:', held.signal.aborted);
await lease.close();
await store.close();
