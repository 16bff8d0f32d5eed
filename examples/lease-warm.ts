/**
 * Hot-warm: two nodes in `warm` mode on one lease. Node A is hot; B is a standby that takes over
 * by itself — at once on a planned release, and after `waitInterval` when A stops renewing
 * (here: A's event loop is blocked, as by a long GC pause or SIGSTOP; A fences itself).
 *
 *   npx tsx examples/lease-warm.ts [--db URL]      (default: a SQLite file in the temp directory)
 */
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createLease, storeFromUrl, type HeldLease, type Lease } from 'hotcold/lease';

const { values } = parseArgs({ options: { db: { type: 'string' } } });
const url = values.db ?? `sqlite:${path.join(os.tmpdir(), 'hotcold-example-lease.db')}`;
const store = storeFromUrl(url, { table: 'example_lease' });
const options = { store, name: 'example-warm', updateInterval: 100, waitInterval: 400, mode: 'warm' } as const;
const a = createLease({ ...options, machineName: 'node-a' });
const b = createLease({ ...options, machineName: 'node-b' });
for (const [label, lease] of [['A', a], ['B', b]] as const) {
  lease.state$.subscribe((s) => console.log(`${label}: ${s.status}${s.token === undefined ? '' : ` (token ${s.token})`}`));
}

const heldA = await a.acquire();
const standingBy: Promise<HeldLease> = b.acquire();
await new Promise((resolve) => setTimeout(resolve, 300));

// 1. Planned maintenance: A releases, B takes over at once.
let t = performance.now();
await a.release();
const heldB = await standingBy;
console.log(`planned handover: B active ${(performance.now() - t).toFixed(0)} ms after A's release (token ${heldA.token} → ${heldB.token})`);

// 2. Unplanned: B freezes for longer than waitInterval; A (warm again) takes over at expiry.
const nextA = a.acquire();
t = performance.now();
const until = t + 600;
while (performance.now() < until) {
  // B's event loop is blocked: no renewal, no timer
}
console.log(`B after its pause: isValid() = ${heldB.isValid()} (it fenced itself before acting again)`);
const heldA2 = await nextA;
console.log(`failover: A active again with token ${heldA2.token}`);

const leases: Lease[] = [a, b];
await Promise.all(leases.map((l) => l.close()));
await store.close();
