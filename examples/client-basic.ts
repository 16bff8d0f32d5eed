/**
 * hotcold client, the basics — runs against the testing fault server, no setup needed:
 *
 *   npx tsx examples/client-basic.ts
 *
 * Makes calls, goes through an outage in which node A stops serving and node B takes over
 * (the fault server plays the balancer and both nodes), prints the client's events and what
 * each failed call says about "may it have run?", then closes everything and exits.
 */
import { createClient, RPCException, UnknownOutcomeException } from 'hotcold';
import { startFaultServer } from 'hotcold/testing';

interface BankApi {
  balance(params: { account: string }): { account: string; amount: number };
  transfer(params: { from: string; to: string; amount: number }): { ok: true };
}

const server = await startFaultServer({
  node: 'node-a',
  epoch: 1,
  handler: (method, params) => (method === 'balance' ? { account: (params as { account: string }).account, amount: 100 } : { ok: true }),
});

const client = createClient({
  url: server.url, // the balancer's address; `[urlA, urlB]` would be an address pool
  retry: { maxAttempts: 8, minDelayMs: 20, maxDelayMs: 500, jitter: 'full' },
  reconnect: { minDelayMs: 20, maxDelayMs: 200 },
  methods: { balance: { idempotent: true }, transfer: { idempotent: false } },
  onDisconnect: (info) => console.log(`onDisconnect: ${info.reason.kind}`),
  onReconnect: (info) => console.log(`onReconnect: back after ${info.outageMs} ms on ${info.node}`),
});

client.events$.subscribe((event) => {
  if (event.type === 'attempt' || event.type === 'probe' || event.type === 'state') return;
  console.log(`event: ${JSON.stringify(event)}`);
});
client.state$.subscribe((state) => console.log(`state: ${state.status}${state.node ? ` (${state.node}, epoch ${state.epoch})` : ''}`));
client.failover$.subscribe((f) => console.log(`failover: ${f.from.node}#${f.from.epoch} → ${f.to.node}#${f.to.epoch} after ${f.outageMs} ms`));

const api = client.proxy<BankApi>();
console.log('balance:', await api.balance({ account: 'A' }));

// The failover: the balancer has no healthy node for a moment (503, nothing executed) ...
server.setHealth('standby');
await server.setMode('balancer-503');
const during = [api.balance({ account: 'A' }), api.transfer({ from: 'A', to: 'B', amount: 5 })];
await new Promise((resolve) => setTimeout(resolve, 150));
// ... then node B is promoted and passes the health check.
server.setNode('node-b', 2);
await server.setMode('ok');
server.setHealth('active');
console.log('held calls released:', await Promise.all(during));

// A transfer whose connection is lost after it was sent: it may have run, so it is NOT retried.
server.enqueue('reset-after-request');
try {
  await api.transfer({ from: 'A', to: 'B', amount: 7 });
} catch (error) {
  if (error instanceof UnknownOutcomeException) {
    console.log(`transfer failed: ${error.kind}, mayHaveExecuted=${error.mayHaveExecuted} — check before repeating it`);
  } else if (error instanceof RPCException) {
    console.log(`transfer failed: ${error.kind}`);
  } else throw error;
}

await client.close();
await server.close();
console.log('closed');
