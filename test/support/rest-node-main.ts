/**
 * A REST ledger node (hotcold/testing `createRestLedgerNode`) as its own process, for the REST
 * end-to-end suites: tests SIGKILL it, SIGSTOP it, or SIGTERM it for a planned drain.
 *
 * Environment: HOTCOLD_DB (SQLite file shared by the pair), HOTCOLD_MACHINE, HOTCOLD_PORT (0),
 * HOTCOLD_UPDATE_MS, HOTCOLD_WAIT_MS. Prints `{"event":"listening","port":N}` once listening and
 * `{"event":"node","status":…}` on every status change. SIGTERM: drain, release, exit 0.
 */
import { createLease, sqliteStore } from '../../src/lease/index.js';
import { createRestLedgerNode } from '../../src/testing/index.js';

const env = (name: string, fallback?: string): string => {
  const value = process.env[name] ?? fallback;
  if (value === undefined) throw new Error(`${name} is required`);
  return value;
};

const store = sqliteStore(env('HOTCOLD_DB'));
const lease = createLease({
  store,
  machineName: env('HOTCOLD_MACHINE'),
  mode: 'warm',
  updateInterval: Number(env('HOTCOLD_UPDATE_MS', '200')),
  waitInterval: Number(env('HOTCOLD_WAIT_MS', '1000')),
});
const node = createRestLedgerNode({ lease, port: Number(env('HOTCOLD_PORT', '0')), drainTimeoutMs: 5000, closeDelayMs: 1000 });
const line = (event: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(event)}\n`);
};
node.state$.subscribe((s) => line({ event: 'node', status: s.status, token: s.token }));
const address = await node.start();
line({ event: 'listening', port: address.port, pid: process.pid });

let stopping = false;
const shutdown = async (): Promise<void> => {
  if (stopping) process.exit(1);
  stopping = true;
  line({ event: 'draining' });
  await node.stop({ drain: true });
  await lease.close().catch(() => undefined);
  await store.close().catch(() => undefined);
  line({ event: 'stopped' });
  process.exit(0);
};
process.on('SIGTERM', () => void shutdown());
process.on('SIGINT', () => void shutdown());
