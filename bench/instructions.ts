/**
 * Load-independent measure of the in-memory success path: run under callgrind, the
 * instructions per call do not depend on what else the machine does (wall-clock µs do).
 *
 *   npx esbuild bench/instructions.ts --bundle --platform=node --format=esm --packages=external --outfile=bench/.instructions.mjs
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node bench/.instructions.mjs <variant> <calls>
 *
 * Instructions per call = (total at N2 − total at N1) / (N2 − N1), minus the same for
 * `baseline` (startup and warm-up cancel out). Variants: baseline, client, policy, cockatiel.
 */
import { circuitBreaker, ConsecutiveBreaker, handleAll, retry, wrap } from 'cockatiel';
import { createClient, createPolicy, type Transport, type TransportResponse } from '../src/index.js';

const RESULT = { ok: true };
const RESPONSE: TransportResponse = { result: RESULT, status: 200, node: 'memory', epoch: 1, dedup: false };
const noop = async (): Promise<unknown> => RESULT;
const transport: Transport = {
  send: async () => RESPONSE,
  health: async () => ({ ok: true, status: 200 }),
  close: async () => undefined,
};
const client = createClient({ url: 'http://127.0.0.1:9', transport });
const policy = createPolicy();
const execute = { name: 'noop' };
const cockatiel = wrap(
  retry(handleAll, { maxAttempts: 8 }),
  circuitBreaker(handleAll, { halfOpenAfter: 1000, breaker: new ConsecutiveBreaker(5) }),
);
const ops: Record<string, () => Promise<unknown>> = {
  baseline: noop,
  client: () => client.call('noop', null),
  policy: () => policy.execute(noop, execute),
  cockatiel: () => cockatiel.execute(noop),
};
const variant = process.argv[2] ?? 'baseline';
const calls = Number(process.argv[3] ?? 0);
const op = ops[variant];
if (op === undefined) throw new Error(`unknown variant ${variant}`);
// The same warm-up for every variant (every op warmed, so JIT work is alike), then `calls`.
for (const warm of Object.values(ops)) for (let i = 0; i < 60_000; i++) await warm();
for (let i = 0; i < calls; i++) await op();
await client.close();
await policy.close();
