/**
 * One contender of the replication failover test (a real process; the driver spawns three). A
 * warm standby (update 100 ms, wait 500 ms) reaching the database through the endpoint proxy that
 * a failover repoints. While it holds the lease it checks `held.isValid()` right before every
 * action, and each action is ONE transaction: `assertHeld`, read the lease row (token, holder),
 * insert into the writes table what it believed and what the row said, bump the counter. Log
 * format: ../stress/log.ts (CLOCK_MONOTONIC timestamps, one clock for every process on the host).
 *
 * SIGUSR1: release the lease (a planned handover), then contend again. SIGTERM: close and exit.
 *
 * Usage: node --import tsx test/lease/replication/contender.ts '<ReplicationContenderConfig JSON>'
 */
import { createLease, FencingError, type HeldLease, type SqlLeaseStore } from 'hotcold/lease';
import { LogWriter, now } from '../stress/log.js';

export interface ReplicationContenderConfig {
  slot: number;
  store: 'postgres' | 'mysql';
  url: string;
  leaseTable: string;
  writesTable: string;
  counterTable: string;
  leaseName: string;
  log: string;
  updateInterval: number;
  waitInterval: number;
  actionGapMs: number;
  requireSynchronousReplication: boolean;
}

const config = JSON.parse(process.argv[2] ?? '{}') as ReplicationContenderConfig;
const pid = process.pid;
const log = new LogWriter(config.log);
const stop = new AbortController();
process.on('SIGTERM', () => stop.abort(new Error('SIGTERM')));
let releaseAsked = false;
process.on('SIGUSR1', () => {
  releaseAsked = true;
});
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

async function open(): Promise<{ store: SqlLeaseStore; close(): Promise<void> }> {
  const { postgresStore, mysqlStore } = await import('hotcold/lease');
  if (config.store === 'postgres') {
    const { default: pg } = await import('pg');
    const pool = new pg.Pool({ connectionString: config.url, max: 3, connectionTimeoutMillis: 2000, application_name: `hcrepl_${config.slot}` });
    pool.on('error', () => undefined);
    const store = postgresStore(pool, { table: config.leaseTable });
    return { store, close: async () => { await store.close(); await pool.end(); } };
  }
  const mysql = await import('mysql2/promise');
  const pool = mysql.createPool({ uri: config.url, connectionLimit: 3, connectTimeout: 2000, timezone: 'Z' });
  pool.on('connection', (conn) => conn.on('error', () => undefined));
  const store = mysqlStore(pool, { table: config.leaseTable });
  return { store, close: async () => { await store.close(); await pool.end(); } };
}

const { store, close: closeStore } = await open();
const lease = createLease({
  store,
  name: config.leaseName,
  machineName: `repl-${config.slot}`,
  updateInterval: config.updateInterval,
  waitInterval: config.waitInterval,
  mode: 'warm',
  ...(config.requireSynchronousReplication ? { requireSynchronousReplication: true } : {}),
});
const events = lease.events$.subscribe((e) => {
  if (e.type === 'lost') log.write({ t: 'lost', pid, token: e.token, ts: now(), reason: e.reason });
});

const { writesTable, counterTable, leaseTable, leaseName } = config;
let seq = 0;

async function act(held: HeldLease, mySeq: number): Promise<'accepted' | 'rejected' | { error: string }> {
  try {
    await store.transaction(async (tx) => {
      await lease.assertHeld(tx, held.token);
      const rows = await tx.query<{ token: unknown; holder: unknown }>(`SELECT token, holder FROM ${leaseTable} WHERE name = ?`, [leaseName]);
      await tx.execute(`INSERT INTO ${writesTable} (token, pid, seq, lease_token, holder, lease_holder) VALUES (?, ?, ?, ?, ?, ?)`, [
        held.token,
        pid,
        mySeq,
        Number(rows[0]?.token),
        lease.holderId,
        // A database cell is a string, number, bigint or Buffer here, never a plain object.
        // eslint-disable-next-line @typescript-eslint/no-base-to-string
        String(rows[0]?.holder ?? ''),
      ]);
      await tx.execute(`UPDATE ${counterTable} SET n = n + 1 WHERE id = 1`);
    });
    return 'accepted';
  } catch (error) {
    if (error instanceof FencingError) return 'rejected';
    return { error: error instanceof Error ? error.message : String(error) };
  }
}

async function serve(held: HeldLease): Promise<void> {
  // What the holder believes between actions too: an action may hang on a dead primary while
  // isValid() still says true (that belief is what must never overlap another holder's).
  const probe = setInterval(() => {
    const ts = now();
    if (held.isValid()) log.write({ t: 'valid', pid, token: held.token, ts });
  }, 10);
  try {
    await serveActions(held);
  } finally {
    clearInterval(probe);
  }
}

async function serveActions(held: HeldLease): Promise<void> {
  while (!stop.signal.aborted) {
    if (releaseAsked) {
      releaseAsked = false;
      await lease.release();
      return;
    }
    const ts = now();
    if (!held.isValid()) {
      log.write({ t: 'fenced', pid, token: held.token, ts });
      return;
    }
    const mySeq = ++seq;
    log.write({ t: 'check', pid, token: held.token, seq: mySeq, ts });
    const outcome = await act(held, mySeq);
    const done = now();
    if (outcome === 'accepted' || outcome === 'rejected') log.write({ t: 'done', pid, token: held.token, seq: mySeq, ts: done, outcome });
    else log.write({ t: 'done', pid, token: held.token, seq: mySeq, ts: done, outcome: 'error', error: outcome.error.slice(0, 200) });
    await sleep(config.actionGapMs);
  }
}

while (!stop.signal.aborted) {
  let held: HeldLease;
  try {
    held = await lease.acquire({ signal: stop.signal });
  } catch (error) {
    if (stop.signal.aborted) break;
    // The refusal is what the option is for: say so on stdout (the driver reads it) and keep trying.
    if (error instanceof Error && error.name === 'ReplicationModeError') process.stdout.write(`refused: ${error.message}\n`);
    await sleep(200);
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
