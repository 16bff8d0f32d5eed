/**
 * hotcold's policy around plain `fetch` calls — no setup needed:
 *
 *   npx tsx examples/policy-basic.ts
 *
 * A small REST server in this process plays a balancer with two nodes: node-a serves, then
 * stops (the balancer answers its own 503, marked "not forwarded"), then node-b takes over. The
 * policy holds the calls made during the outage, probes `/health`, releases them on node-b and
 * reports the failover. A POST whose connection is cut after it was sent comes back as "may
 * have run" and is not repeated. Then everything is closed and the process exits by itself.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createPolicy, type AttemptContext, RPCException } from 'hotcold';

// --- the server: a balancer in front of node-a / node-b -------------------------------------
let serving: { node: string; epoch: number } | undefined = { node: 'node-a', epoch: 1 };
let cutNextPost = false;
let transfers = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    if (serving === undefined) {
      // The balancer's own answer: no node behind it, nothing was forwarded.
      res.writeHead(503, { 'x-hotcold-not-forwarded': '1' }).end('no server available');
      return;
    }
    const identity = { 'x-hotcold-node': serving.node, 'x-hotcold-epoch': String(serving.epoch) };
    if (req.url === '/health') {
      res.writeHead(200, identity).end('{"status":"active"}');
      return;
    }
    if (req.method === 'POST') {
      transfers++;
      if (cutNextPost) {
        cutNextPost = false;
        req.socket.destroy(); // the transfer reached the node; its answer is lost
        return;
      }
    }
    res.writeHead(200, { 'content-type': 'application/json', ...identity }).end(JSON.stringify({ amount: 100, node: serving.node }));
  });
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

// --- the policy around fetch -----------------------------------------------------------------
const policy = createPolicy({
  backends: base,
  timeoutMs: 2000,
  retry: { maxAttempts: 8, minDelayMs: 20, maxDelayMs: 200 },
  reconnect: { minDelayMs: 20, maxDelayMs: 100 },
  methods: { balance: { idempotent: true }, transfer: { idempotent: false } },
  probe: async ({ backend, signal }) => {
    const response = await fetch(`${backend}/health`, { signal });
    await response.body?.cancel();
    return { ok: response.ok, node: response.headers.get('x-hotcold-node') ?? undefined, epoch: Number(response.headers.get('x-hotcold-epoch')) };
  },
  onDisconnect: (info) => console.log(`onDisconnect: ${info.reason.kind}`),
  onReconnect: (info) => console.log(`onReconnect: back on ${info.node} after ${info.outageMs} ms`),
});
policy.state$.subscribe((state) => console.log(`state: ${state.status}${state.node ? ` (${state.node})` : ''}`));
policy.failover$.subscribe((f) => console.log(`failover: ${f.from.node}#${f.from.epoch} → ${f.to.node}#${f.to.epoch}`));

/** One attempt: a fetch that passes on the signal and the key, and reports who answered. */
async function request(path: string, method: 'GET' | 'POST', { backend, signal, idempotencyKey, report }: AttemptContext): Promise<{ amount: number; node: string }> {
  const response = await fetch(`${backend}${path}`, { method, signal, headers: { 'Idempotency-Key': idempotencyKey } });
  report({ node: response.headers.get('x-hotcold-node') ?? undefined, epoch: Number(response.headers.get('x-hotcold-epoch')) });
  if (response.status === 503 && response.headers.get('x-hotcold-not-forwarded') === '1') {
    await response.body?.cancel();
    // The balancer forwarded nothing: hand the classifier the error it knows as "not executed".
    throw Object.assign(new Error('no server available'), { code: 'ECONNREFUSED' });
  }
  return (await response.json()) as { amount: number; node: string };
}

const balance = (): Promise<{ amount: number; node: string }> => policy.execute((c) => request('/accounts/A', 'GET', c), { name: 'balance' });

console.log(`balance from ${(await balance()).node}`);

// node-a goes away; calls made now are held while the policy probes.
serving = undefined;
const held = Promise.all([balance(), balance(), balance()]);
setTimeout(() => {
  serving = { node: 'node-b', epoch: 2 };
}, 300);
const answers = await held;
console.log(`held calls released: ${answers.map((a) => a.node).join(', ')}`);

// A transfer whose connection is cut after it was sent: it may have run, so it is not repeated.
cutNextPost = true;
try {
  await policy.execute((c) => request('/transfers', 'POST', c), { name: 'transfer' });
} catch (error) {
  if (error instanceof RPCException) console.log(`transfer failed: ${error.kind}, mayHaveExecuted=${error.mayHaveExecuted}, sent ${transfers} time(s)`);
}

await policy.close();
await new Promise<void>((resolve) => server.close(() => resolve()));
console.log('closed');
