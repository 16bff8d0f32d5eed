/**
 * A short-lived peer of the stress suite: a real process that is not one of the contenders but
 * touches the same lease table, for two fault kinds.
 *
 * - `restart`: a standby that keeps restarting while the hot node serves. Each cycle opens a
 *   fresh store (new connections), creates the tables (`init()`), runs a warm engine for a
 *   moment and closes it all. If its engine happens to take the lease, the acquisition is logged
 *   (the checker opens a window for it) and the lease is released at once.
 * - `startup`: a process caught inside start-up. It runs `init()` (the DDL, under the store's
 *   start-up lock) over and over and logs `init` first, so the driver can SIGSTOP it in the middle
 *   of one and later SIGKILL it.
 *
 * Usage: node --import tsx test/lease/stress/peer.ts '<PeerConfig as JSON>'
 */
import { createLease } from 'hotcold/lease';
import { LogWriter, now } from './log.js';
import { openStore, type StoreKind } from './stores.js';

export interface PeerConfig {
  mode: 'restart' | 'startup';
  store: StoreKind;
  db: string;
  leaseTable: string;
  leaseName: string;
  log: string;
  updateInterval: number;
  waitInterval: number;
  appName: string;
  /** restart: how many start/stop cycles. */
  cycles: number;
  /** restart: how long each engine contends before it is closed, ms. */
  runMs: number;
}

const config = JSON.parse(process.argv[2] ?? '{}') as PeerConfig;
const pid = process.pid;
const log = new LogWriter(config.log);
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort(new Error('SIGTERM')));
log.write({ t: 'start', pid, slot: -1, ts: now() });

const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function restartCycle(cycle: number): Promise<void> {
  const { store, close } = await openStore(config.store, config.db, config.leaseTable, { appName: config.appName });
  try {
    log.write({ t: 'init', pid, ts: now() });
    await store.init();
    const lease = createLease({
      store,
      name: config.leaseName,
      machineName: `stress-peer-${cycle}`,
      updateInterval: config.updateInterval,
      waitInterval: config.waitInterval,
      mode: 'warm',
    });
    const give = new AbortController();
    const timer = setTimeout(() => give.abort(new Error('peer cycle over')), config.runMs);
    try {
      const held = await lease.acquire({ signal: give.signal });
      log.write({ t: 'acquired', pid, token: held.token, ts: now() });
    } catch {
      // Not acquired within runMs: the usual case while a healthy holder serves.
    } finally {
      clearTimeout(timer);
      await lease.close();
    }
  } finally {
    await close();
  }
}

try {
  if (config.mode === 'restart') {
    for (let cycle = 0; cycle < config.cycles && !stop.signal.aborted; cycle++) {
      await restartCycle(cycle).catch((error: unknown) => {
        process.stderr.write(`peer cycle ${cycle} failed: ${error instanceof Error ? error.message : String(error)}\n`);
      });
    }
  } else {
    const { store, close } = await openStore(config.store, config.db, config.leaseTable, { appName: config.appName });
    try {
      while (!stop.signal.aborted) {
        log.write({ t: 'init', pid, ts: now() });
        await store.init().catch(() => pause(5));
      }
    } finally {
      await close();
    }
  }
} finally {
  log.write({ t: 'exit', pid, ts: now() });
  log.close();
}
