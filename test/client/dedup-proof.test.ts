/**
 * A "maybe" non-idempotent call is repeated only with fresh proof that the node about to receive
 * it deduplicates in its term: a /health answer that names the node and the term and carries
 * X-Hotcold-Dedup. Neither the failing node's own dedup (the balancer may have moved on) nor a
 * /health answer naming nobody (a sidecar) is proof.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, UnknownOutcomeException, type HotcoldClient } from 'hotcold';

type Variant = 'commit-unknown' | 'health-sidecar' | 'b-dedups';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** One URL; node a (epoch 1, dedups) serves until the marked call fails, then node b (epoch 2). */
interface Backend {
  url: string;
  executions(key: string): number;
  /** The next call fails (COMMIT_UNKNOWN from a, or a reset) and b serves from then on. */
  arm(): void;
}

async function switchingBackend(variant: Variant): Promise<Backend> {
  let serving: 'a' | 'b' = 'a';
  let failNext = false;
  const seen: string[] = [];
  const headers = (n: 'a' | 'b'): Record<string, string> =>
    n === 'a'
      ? { 'x-hotcold-node': 'a', 'x-hotcold-epoch': '1', 'x-hotcold-dedup': '1' }
      : { 'x-hotcold-node': 'b', 'x-hotcold-epoch': '2', ...(variant === 'b-dedups' ? { 'x-hotcold-dedup': '1' } : {}) };
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (req.url === '/health') {
        if (variant === 'health-sidecar') res.writeHead(200, { 'x-hotcold-dedup': '1', 'content-type': 'application/json' });
        else res.writeHead(200, { ...headers(serving), 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'active', node: variant === 'health-sidecar' ? '' : serving }));
        return;
      }
      const key = String(req.headers['idempotency-key']);
      // b deduplicates only in the positive control: a repeat of a key it has seen is answered from memory.
      if (!(serving === 'b' && variant === 'b-dedups' && seen.includes(key))) seen.push(key);
      const id = (JSON.parse(body) as { id: number }).id;
      if (failNext) {
        failNext = false;
        serving = 'b';
        if (variant === 'commit-unknown') {
          res.writeHead(500, { ...headers('a'), 'content-type': 'application/json' });
          res.end('{"error":"COMMIT_UNKNOWN"}');
        } else req.socket.destroy();
        return;
      }
      res.writeHead(200, { ...headers(serving), 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: serving }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(() => new Promise((r) => server.close(() => r())));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    executions: (key) => seen.filter((k) => k === key).length,
    arm: () => {
      failNext = true;
    },
  };
}

async function run(variant: Variant, options: { cold?: boolean } = {}): Promise<{ outcome: unknown; executions: number }> {
  const backend = await switchingBackend(variant);
  const client: HotcoldClient = createClient({ url: backend.url, methods: { transfer: { idempotent: false } }, breaker: false });
  cleanups.push(() => client.close());
  // Cold: the client's very first call is the one that fails, so it has learned nothing yet.
  if (options.cold !== true) await client.call('transfer', {}); // learns: a dedups in term 1
  backend.arm();
  const outcome = await client.call('transfer', {}, { idempotencyKey: 'order-1' }).catch((e: unknown) => e);
  return { outcome, executions: backend.executions('order-1') };
}

describe('proof of deduplication before repeating a maybe call', () => {
  it("a COMMIT_UNKNOWN from a dedup node is not proof for the node that answers next", async () => {
    const { outcome, executions } = await run('commit-unknown');
    expect(outcome).toBeInstanceOf(UnknownOutcomeException);
    expect(executions).toBe(1);
  });

  it('a /health answer that names no node and term is not proof', async () => {
    const { outcome, executions } = await run('health-sidecar');
    expect(outcome).toBeInstanceOf(UnknownOutcomeException);
    expect(executions).toBe(1);
  });

  it('positive control: the new node proves it dedups, the call is repeated and runs once there', async () => {
    const { outcome } = await run('b-dedups');
    expect(outcome).toBe('b');
  });

  // A planned switchover while a client's first calls are all in flight (queued on the draining
  // node, cut by the balancer): no answer has said anything about dedup yet. Not knowing is not
  // "does not deduplicate": the backend is asked, as after a failover.
  it('a client that has had no answer yet asks for proof instead of giving up: repeated once on the node that dedups', async () => {
    const { outcome, executions } = await run('b-dedups', { cold: true });
    expect(outcome).toBe('b');
    expect(executions).toBe(1);
  });

  it.each(['commit-unknown', 'health-sidecar'] as const)(
    'a client that has had no answer yet, without proof (%s: b does not dedup / health names nobody): not repeated, its own failure',
    async (variant) => {
      const { outcome, executions } = await run(variant, { cold: true });
      expect(outcome).toBeInstanceOf(UnknownOutcomeException);
      expect((outcome as UnknownOutcomeException).message).not.toMatch(/not repeated/);
      expect((outcome as UnknownOutcomeException).mayHaveExecuted).toBe(true);
      expect(executions).toBe(1);
    },
  );
});
