/**
 * A lease peer for bench/lease.ts: a warm-mode process that reports, as JSON lines on stdout with
 * CLOCK_MONOTONIC timestamps (`process.hrtime.bigint()`, one clock for every process on the host):
 *   {"t":"ready"}                once it stands by and has seen the holder (or holds)
 *   {"t":"acquired","ts":…}      the moment acquire() resolved
 *   {"t":"renewed","ts":…,"latencyMs":…}
 *   {"t":"releasing","ts":…}     right before release(), on the line `release` on stdin
 * After a release it stands by again on the line `contend`. SIGTERM closes it.
 *
 * Usage: node --import tsx test/lease/stress/bench-peer.ts '<PeerConfig as JSON>'
 */
import { createInterface } from 'node:readline';
import { createLease } from 'hotcold/lease';
import { openStore, type StoreKind } from './stores.js';

export interface PeerConfig {
  store: StoreKind;
  db: string;
  table: string;
  name: string;
  machineName: string;
  updateInterval: number;
  waitInterval: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as PeerConfig;
const say = (record: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(record)}\n`);
};
const now = (): string => process.hrtime.bigint().toString();

const { store, close: closeStore } = await openStore(config.store, config.db, config.table, { appName: `hcb_${config.machineName}` });
const lease = createLease({
  store,
  name: config.name,
  machineName: config.machineName,
  updateInterval: config.updateInterval,
  waitInterval: config.waitInterval,
  mode: 'warm',
});
const stop = new AbortController();
let readySaid = false;
const subscriptions = [
  lease.events$.subscribe((e) => {
    if (e.type === 'renewed') say({ t: 'renewed', ts: now(), latencyMs: e.latencyMs });
  }),
  lease.state$.subscribe((s) => {
    // A standby that has read the row knows the holder: from here it times its takeover.
    if (!readySaid && ((s.status === 'standby' && s.holder !== undefined) || s.status === 'active')) {
      readySaid = true;
      say({ t: 'ready' });
    }
  }),
];

async function contend(): Promise<void> {
  try {
    await lease.acquire({ signal: stop.signal });
    say({ t: 'acquired', ts: now() });
  } catch {
    // closed or stopped
  }
}

const input = createInterface({ input: process.stdin });
input.on('line', (line) => {
  const command = line.trim();
  if (command === 'release') {
    say({ t: 'releasing', ts: now() });
    void lease.release();
  } else if (command === 'contend') {
    // Only when told: contending right after its own release, it could win the lease back.
    readySaid = false;
    void contend();
  }
});

process.on('SIGTERM', () => {
  stop.abort();
  input.close();
  for (const s of subscriptions) s.unsubscribe();
  void lease
    .close()
    .catch(() => undefined)
    .then(() => closeStore().catch(() => undefined))
    .then(() => process.exit(0));
});

void contend();
