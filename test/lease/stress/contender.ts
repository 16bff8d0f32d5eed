/**
 * One contender of the stress suite (a real process; the driver spawns five). It stays a warm
 * standby; while it holds the lease it checks `held.isValid()` right before every action, and
 * each action is ONE transaction on the lease database: `assertHeld`, read the lease's current
 * token, insert into the writes log, increment the shared counter. Everything it does goes to
 * its JSON-lines log (see log.ts) with CLOCK_MONOTONIC timestamps.
 *
 * Faults it cooperates with: SIGUSR2 blocks its event loop for `blockMs` (synchronously);
 * SIGTERM ends it gracefully. SIGKILL, SIGSTOP and connection kills need no help.
 *
 * Usage: node --import tsx test/lease/stress/contender.ts '<ContenderConfig as JSON>'
 */
import { createLease, FencingError, type HeldLease } from 'hotcold/lease';
import { LogWriter, now } from './log.js';
import { openStore, type StoreKind } from './stores.js';

export interface ContenderConfig {
  slot: number;
  store: StoreKind;
  /** SQLite file path or database URL. */
  db: string;
  leaseTable: string;
  writesTable: string;
  counterTable: string;
  leaseName: string;
  log: string;
  updateInterval: number;
  waitInterval: number;
  /** How long SIGUSR2 blocks the event loop. */
  blockMs: number;
  /** Pause between two actions of a holder. */
  actionGapMs: number;
  /** Label for this process's PostgreSQL sessions. */
  appName: string;
  /** The negative control: switch self-fencing off. */
  unsafeDisableSelfFencing: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ContenderConfig;
const pid = process.pid;
const log = new LogWriter(config.log);

const stop = new AbortController();
process.on('SIGTERM', () => stop.abort(new Error('SIGTERM')));
process.on('SIGUSR2', () => {
  const start = now();
  const until = process.hrtime.bigint() + BigInt(config.blockMs) * 1_000_000n;
  // Busy-wait on purpose: the whole event loop (timers, renewals, I/O callbacks) is frozen.
  while (process.hrtime.bigint() < until) {
    /* spin */
  }
  log.write({ t: 'block', pid, ts: start, end: now() });
});
// Only now may the driver send SIGUSR2 (its default action would kill us): 'start' says so.
log.write({ t: 'start', pid, slot: config.slot, ts: now() });

const sleep = (ms: number): Promise<void> =>
  new Promise((resolve) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      stop.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    stop.signal.addEventListener('abort', onAbort, { once: true });
  });

const { store, close: closeStore } = await openStore(config.store, config.db, config.leaseTable, {
  appName: config.appName,
  onConnection: (id) => log.write({ t: 'conn', pid, id, ts: now() }),
});

const lease = createLease({
  store,
  name: config.leaseName,
  machineName: `stress-${config.slot}`,
  updateInterval: config.updateInterval,
  waitInterval: config.waitInterval,
  mode: 'warm',
  ...(config.unsafeDisableSelfFencing ? { unsafeDisableSelfFencing: true } : {}),
});
const events = lease.events$.subscribe((e) => {
  if (e.type === 'lost') log.write({ t: 'lost', pid, token: e.token, ts: now(), reason: e.reason });
});

const { writesTable, counterTable, leaseTable, leaseName } = config;
let seq = 0;

/** One fenced action; returns how it ended. */
async function act(held: HeldLease, mySeq: number): Promise<'accepted' | 'rejected' | { error: string }> {
  try {
    await store.transaction(async (tx) => {
      await lease.assertHeld(tx, held.token);
      const rows = await tx.query<{ token: unknown }>(`SELECT token FROM ${leaseTable} WHERE name = ?`, [leaseName]);
      const leaseToken = Number(rows[0]?.token);
      await tx.execute(`INSERT INTO ${writesTable} (token, pid, seq, lease_token) VALUES (?, ?, ?, ?)`, [held.token, pid, mySeq, leaseToken]);
      await tx.execute(`UPDATE ${counterTable} SET n = n + 1 WHERE id = 1`);
    });
    return 'accepted';
  } catch (error) {
    if (error instanceof FencingError) return 'rejected';
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

/** Serves while the lease is valid; returns when it is lost (or on shutdown). */
async function serve(held: HeldLease): Promise<void> {
  while (!stop.signal.aborted) {
    // Read the clock before the check: the logged instant is never later than the decision.
    const ts = now();
    if (!held.isValid()) {
      log.write({ t: 'fenced', pid, token: held.token, ts });
      return;
    }
    const mySeq = ++seq;
    log.write({ t: 'check', pid, token: held.token, seq: mySeq, ts });
    const outcome = await act(held, mySeq);
    const done = now();
    if (outcome === 'accepted' || outcome === 'rejected') {
      log.write({ t: 'done', pid, token: held.token, seq: mySeq, ts: done, outcome });
    } else {
      log.write({ t: 'done', pid, token: held.token, seq: mySeq, ts: done, outcome: 'error', error: outcome.error.slice(0, 200) });
    }
    await sleep(config.actionGapMs);
  }
}

while (!stop.signal.aborted) {
  let held: HeldLease;
  try {
    held = await lease.acquire({ signal: stop.signal });
  } catch {
    if (stop.signal.aborted) break;
    await sleep(50);
    continue;
  }
  log.write({ t: 'acquired', pid, token: held.token, ts: now() });
  await serve(held);
}

events.unsubscribe();
await lease.close().catch(() => undefined);
await closeStore().catch(() => undefined);
log.write({ t: 'exit', pid, ts: now() });
log.close();
