/**
 * One reference node on a SQLite file, for the frozen-holder test (sqlite-frozen-holder.test.ts).
 * Config comes as JSON in HOTCOLD_CHILD. Stdout, one JSON object per line:
 *   {"event":"listening","port":N}            once
 *   {"event":"lease","status":…,"token":N?}   on every lease state
 *   {"event":"renewed"|"acquired","token":N}  lease events, `t` = Date.now() (one host, one clock);
 *                                             renewed has latencyMs (t − latencyMs: the renewal's send)
 *   {"event":"lost","token":N,"cause":…}       the lease was lost, and why
 *   {"event":"handler-start","key":…}         when `slow` holds its transaction (row written)
 *   {"event":"lag","maxMs":N,"at":N}          every 100 ms: the largest event-loop lag since the last line
 *   {"event":"node", …}                        node events (rolled-back, handler-error, …)
 * Handlers: `slow` writes a row then awaits 400 ms inside its transaction; `write` writes a row.
 * The lag probe is a setInterval: a busy wait on the main thread shows up as one late tick.
 */
import { createLease, sqliteStore } from 'hotcold/lease';
import { createNode, type HandlerContext } from 'hotcold/node';

interface ChildConfig {
  db: string;
  machine: string;
  updateInterval: number;
  waitInterval: number;
  busyTimeoutMs?: number;
}

const config = JSON.parse(process.env.HOTCOLD_CHILD ?? '{}') as ChildConfig;
const out = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify({ ...line, t: Date.now() })}\n`);
};

const TICK_MS = 10;
let expected = performance.now() + TICK_MS;
let maxLag = 0;
const probe = setInterval(() => {
  const now = performance.now();
  maxLag = Math.max(maxLag, now - expected);
  expected = now + TICK_MS;
}, TICK_MS);
const report = setInterval(() => {
  out({ event: 'lag', maxMs: Math.round(maxLag) });
  maxLag = 0;
}, 100);

const store = sqliteStore(config.db, config.busyTimeoutMs === undefined ? {} : { busyTimeoutMs: config.busyTimeoutMs });
const lease = createLease({
  store,
  machineName: config.machine,
  updateInterval: config.updateInterval,
  waitInterval: config.waitInterval,
  mode: 'warm',
});
lease.state$.subscribe((s) => out({ event: 'lease', status: s.status, token: s.token }));
lease.events$.subscribe((e) => {
  if (e.type === 'renewed') out({ event: e.type, token: e.token, latencyMs: e.latencyMs });
  if (e.type === 'acquired') out({ event: e.type, token: e.token });
  if (e.type === 'lost') out({ event: e.type, token: e.token, cause: e.cause });
});

const node = createNode({
  lease,
  port: 0,
  handlers: {
    slow: async (_params: unknown, ctx: HandlerContext) => {
      await ctx.tx.execute('INSERT INTO frozen_calls (k, node) VALUES (?, ?)', [ctx.idempotencyKey ?? 'none', config.machine]);
      out({ event: 'handler-start', key: ctx.idempotencyKey });
      await new Promise((resolve) => setTimeout(resolve, 400));
      return 'slow-done';
    },
    write: async (_params: unknown, ctx: HandlerContext) => {
      await ctx.tx.execute('INSERT INTO frozen_calls (k, node) VALUES (?, ?)', [ctx.idempotencyKey ?? 'none', config.machine]);
      return 'ok';
    },
  },
});
node.events$.subscribe((e) => {
  if (e.type !== 'status') out({ event: 'node', ...e });
});

const address = await node.start();
out({ event: 'listening', port: address.port });

const shutdown = async (): Promise<void> => {
  clearInterval(probe);
  clearInterval(report);
  await node.stop({ drain: false });
  await lease.close();
  await store.close();
  process.exit(0);
};
process.once('SIGTERM', () => void shutdown());
