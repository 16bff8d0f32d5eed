/**
 * A client application doing money transfers through a balancer in front of a hot-warm pair.
 *
 *   HOTCOLD_URL=http://127.0.0.1:8080 npx tsx examples/client-app.ts [transfers]
 *
 * What it shows:
 * - declare which methods are idempotent; `transfer` is not, so it is only retried when that is
 *   safe (never sent, or the node deduplicates by the call's idempotency key);
 * - give each business operation its own key and reuse it when you retry by hand, so a transfer
 *   whose outcome was unknown can be retried without paying twice;
 * - watch the connection: state$ (connected / reconnecting …) and failover$ (old → new node);
 * - at the end, print one JSON line so a test (or you) can check the outcome.
 */
import { randomUUID } from 'node:crypto';
import { createClient, RPCException } from 'hotcold';

const url = process.env.HOTCOLD_URL ?? 'http://127.0.0.1:8080';
const total = Number(process.argv[2] ?? 200);
const concurrency = 8;

const client = createClient({
  url,
  methods: {
    transfer: { idempotent: false },
    balance: { idempotent: true },
  },
  retry: { maxAttempts: 30, minDelayMs: 25, maxDelayMs: 250, jitter: 'full' },
  // During a switchover the balancer answers a burst of 503s and the breaker opens: wait for
  // its half-open trial instead of failing calls at once.
  breaker: { whenOpen: 'wait', resetTimeoutMs: 250 },
  // While reconnecting, look for the new node about as often as the balancer checks.
  reconnect: { maxDelayMs: 200 },
  timeoutMs: 2000,
  deadlineMs: 15_000,
});

client.state$.subscribe((state) => {
  process.stderr.write(`connection: ${state.status}${state.node ? ` to ${state.node} (epoch ${state.epoch ?? '?'})` : ''}\n`);
});
client.failover$.subscribe((f) => {
  process.stderr.write(`failover: ${f.from.node ?? '?'} -> ${f.to.node ?? '?'} (epoch ${f.to.epoch ?? '?'}), ${Math.round(f.outageMs)} ms without service\n`);
});

interface Outcome {
  done: number;
  /** Calls that failed even after the manual retry below; each says whether it may have run. */
  failed: Array<{ key: string; kind: string; mayHaveExecuted: boolean }>;
  manualRetries: number;
  keys: string[];
}

const outcome: Outcome = { done: 0, failed: [], manualRetries: 0, keys: [] };

/** One business operation: a transfer with its own key, retried by hand once if the client gave up. */
async function pay(n: number): Promise<void> {
  const key = `client-app-${randomUUID()}`;
  // `ref` is the business reference the ledger stores; the key makes retries of it safe.
  const params = { from: 'alice', to: 'bob', amount: 1, ref: `payment-${n}-${key}` };
  for (let attempt = 1; ; attempt++) {
    try {
      await client.call('transfer', params, { idempotencyKey: key });
      outcome.done += 1;
      outcome.keys.push(key);
      return;
    } catch (error) {
      if (!(error instanceof RPCException)) throw error;
      // Same key again: if the first attempt did run, the node answers with its stored result
      // instead of moving the money a second time.
      if (attempt < 2 && error.kind !== 'remote-call' && error.kind !== 'authentication') {
        outcome.manualRetries += 1;
        continue;
      }
      outcome.failed.push({ key, kind: error.kind, mayHaveExecuted: error.mayHaveExecuted });
      return;
    }
  }
}

let next = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (next < total) await pay(next++);
  }),
);
// Exactly once, in aggregate: bob received one unit per acknowledged payment, no more.
const { balance } = await client.call<{ balance: number }>('balance', { account: 'bob' });
await client.close();
process.stdout.write(`${JSON.stringify({ done: outcome.done, failed: outcome.failed, manualRetries: outcome.manualRetries, bobBalance: balance, keys: outcome.keys })}\n`);
process.exitCode = outcome.failed.length === 0 ? 0 : 1;
