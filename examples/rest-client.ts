/**
 * REST over axios with hotcold — runs on its own, no setup needed:
 *
 *   npx tsx examples/rest-client.ts
 *
 * Two REST ledger nodes (hotcold/testing) share a SQLite file under the lease; the dev balancer
 * sends traffic to whichever holds it. An ordinary axios instance gets `attachPolicy`; requests
 * keep working through a planned handover from node A to node B, a 404 reaches the caller as
 * axios's own error, and the ledger shows every transfer exactly once.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import axios, { AxiosError } from 'axios';
import { attachPolicy, RPCException } from 'hotcold/axios';
import { createLease, sqliteStore } from 'hotcold/lease';
import { createRestLedgerNode, readLedger, startDevBalancer } from 'hotcold/testing';

const dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-rest-example-'));
const db = path.join(dir, 'ledger.db');

async function startNode(machine: string) {
  const store = sqliteStore(db);
  const lease = createLease({ store, machineName: machine, mode: 'warm', updateInterval: 200, waitInterval: 1000 });
  const node = createRestLedgerNode({ lease, port: 0 });
  const { url } = await node.start();
  return { store, lease, node, url };
}

const a = await startNode('node-a');
while (a.node.status !== 'active') await new Promise((resolve) => setTimeout(resolve, 20));
const b = await startNode('node-b');
const balancer = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 50 });

// Your axios instance, as it is: baseURL, headers, interceptors, agent.
const api = axios.create({ baseURL: balancer.url, headers: { 'X-App': 'example' } });
const { policy, detach } = attachPolicy(api, {
  routes: {
    'POST /transfers': { idempotent: false, timeoutMs: 2000 }, // retried after "maybe" only with a key the node deduplicates
    'GET /accounts/:id': { timeoutMs: 500 },
  },
  idempotencyKeys: true, // one Idempotency-Key per logical POST, the same on every retry
  healthPath: '/health',
  retry: { maxAttempts: 20, minDelayMs: 20, maxDelayMs: 200 },
  reconnect: { minDelayMs: 20, maxDelayMs: 100 },
  deadlineMs: 10_000,
});
policy.failover$.subscribe((f) => console.log(`failover: ${f.from.node} → ${f.to.node}`));

const created = await api.post('/transfers', { from: 'alice', to: 'bob', amount: 5, ref: 't-0' });
console.log(`transfer: HTTP ${created.status}, served by ${created.headers['x-hotcold-node']}`);

// 4xx are the application's answers: axios's own error, with the response, never retried.
try {
  await api.get('/accounts/nobody');
} catch (error) {
  if (error instanceof AxiosError) console.log(`4xx as axios gives it: HTTP ${error.response?.status}`);
}

// A planned handover while transfers are in flight: node A drains and releases the lease.
let ok = 0;
const load = Array.from({ length: 20 }, async (_, i) => {
  try {
    await api.post('/transfers', { from: 'alice', to: 'bob', amount: 1, ref: `t-${i + 1}` });
    ok += 1;
  } catch (error) {
    if (error instanceof RPCException) console.log(`failed: ${error.kind}, mayHaveExecuted=${error.mayHaveExecuted}`);
  }
});
await a.node.stop({ drain: true });
await Promise.all(load);
console.log(`transfers during the handover: ${ok}/20 ok`);

const balance = await api.get<{ balance: number }>('/accounts/bob');
console.log(`bob's balance: ${balance.data.balance}, served by ${balance.headers['x-hotcold-node']}`);
const refs = (await readLedger(b.store, 'rest_ledger')).map((e) => e.ref);
console.log(`ledger: ${refs.length} entries, ${new Set(refs).size} distinct`);

await detach(); // the instance is a plain axios instance again
await balancer.close();
for (const m of [a, b]) {
  await m.node.close();
  await m.lease.close();
  await m.store.close();
}
await rm(dir, { recursive: true, force: true });
console.log('closed');
