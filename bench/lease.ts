/**
 * Lease benchmark, per store (SQLite, PostgreSQL, MariaDB; a store whose database is unreachable
 * is skipped with a note):
 * - SIGKILL of the holder → warm standby active (two real processes; target ≤ waitInterval + 50 ms),
 *   and how late the standby is after the lease's expiry (last renewal + waitInterval);
 * - release() → standby active (target ≤ 100 ms);
 * - renewal latency p50/p99 (the engine's 'renewed' events) and statements per renewal, counted
 *   by wrapping the store the engine talks to (and, on PostgreSQL, cross-checked on the server
 *   with pg_stat_user_tables: rows updated and index scans on the lease table).
 * Every time across processes is CLOCK_MONOTONIC (`process.hrtime.bigint()`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { createLease, type LeaseEvent, type SqlLeaseStore } from 'hotcold/lease';
import { databaseAvailable } from '../test/support/services.js';
import type { PeerConfig } from '../test/lease/stress/bench-peer.js';
import { databaseFor, openStore, type StoreKind } from '../test/lease/stress/stores.js';
import type { BenchRow } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '..');
const peerScript = path.join(repoRoot, 'test/lease/stress/bench-peer.ts');

const UPDATE = 200;
const WAIT = 1000;
const KILL_REPS = 4;
const RELEASE_REPS = 6;
const RENEWAL_SECONDS = 3;

type PeerMessage = { t: 'ready' } | { t: 'acquired'; ts: string } | { t: 'renewed'; ts: string; latencyMs: number } | { t: 'releasing'; ts: string };

/** A bench-peer process and a queue of what it said. */
class Peer {
  readonly child: ChildProcess;
  private readonly messages: PeerMessage[] = [];
  private waiters: (() => void)[] = [];
  lastRenewed: bigint | undefined;
  private exited = false;
  readonly exit: Promise<void>;

  constructor(config: PeerConfig) {
    this.child = spawn(process.execPath, ['--import', 'tsx', peerScript, JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    this.exit = new Promise((resolve) =>
      this.child.once('exit', () => {
        this.exited = true;
        // Wake next(): a peer that died is reported now, not at the end of the wait.
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w();
        resolve();
      }),
    );
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      let message: PeerMessage;
      try {
        message = JSON.parse(line) as PeerMessage;
      } catch {
        return;
      }
      // The renewal's send time: the database stamped it between that and the reply.
      if (message.t === 'renewed') this.lastRenewed = BigInt(message.ts) - BigInt(Math.round(message.latencyMs * 1e6));
      this.messages.push(message);
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
  }

  /** Resolves with the next message of type `t` (consuming everything before it). */
  async next<T extends PeerMessage['t']>(t: T, timeoutMs = 30_000): Promise<Extract<PeerMessage, { t: T }>> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const index = this.messages.findIndex((m) => m.t === t);
      if (index >= 0) {
        const [found] = this.messages.splice(0, index + 1).slice(-1);
        return found as Extract<PeerMessage, { t: T }>;
      }
      if (this.exited) throw new Error(`bench peer exited while waiting for '${t}'`);
      const left = until - Date.now();
      if (left <= 0) throw new Error(`bench peer: no '${t}' within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** Forgets queued messages of type `t`, so that `next(t)` waits for a fresh one. */
  discard(t: PeerMessage['t']): void {
    for (let i = this.messages.length - 1; i >= 0; i--) if (this.messages[i]?.t === t) this.messages.splice(i, 1);
  }

  send(line: string): void {
    this.child.stdin?.write(`${line}\n`);
  }

  async stop(): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
    await this.exit;
    clearTimeout(timer);
  }

  kill(): void {
    this.child.kill('SIGKILL');
  }
}

const ms = (ns: bigint): number => Number(ns) / 1e6;

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

const median = (values: readonly number[]): number => quantile(values, 0.5);

/** Process takeover timings for one store: SIGKILL → active, and release() → active. */
async function measureTakeovers(kind: StoreKind, db: string, table: string): Promise<{ kill: number[]; late: number[]; release: number[] }> {
  const name = `bench-${randomBytes(3).toString('hex')}`;
  let serial = 0;
  const config = (): PeerConfig => ({ store: kind, db, table, name, machineName: `bench-${++serial}`, updateInterval: UPDATE, waitInterval: WAIT });
  const peers = new Set<Peer>();
  const start = (): Peer => {
    const p = new Peer(config());
    peers.add(p);
    return p;
  };
  const kill: number[] = [];
  const late: number[] = [];
  const release: number[] = [];
  try {
    let holder = start();
    await holder.next('acquired');
    let standby = start();
    await standby.next('ready');

    for (let i = 0; i < RELEASE_REPS; i++) {
      holder.send('release');
      const releasing = await holder.next('releasing');
      const acquired = await standby.next('acquired');
      release.push(ms(BigInt(acquired.ts) - BigInt(releasing.ts)));
      holder.send('contend');
      await holder.next('ready');
      [holder, standby] = [standby, holder];
    }

    for (let i = 0; i < KILL_REPS; i++) {
      // Kill at a varying phase of the renewal cycle, but with no renewal in flight, so that the
      // last renewal the holder reported is the one the lease expires from.
      holder.discard('renewed');
      await holder.next('renewed');
      await new Promise((r) => setTimeout(r, Math.random() * UPDATE * 0.7));
      const lastRenewal = holder.lastRenewed;
      const killedAt = process.hrtime.bigint();
      holder.kill();
      const acquired = await standby.next('acquired', WAIT * 5);
      kill.push(ms(BigInt(acquired.ts) - killedAt));
      // The lease expired at (the database's stamp of the last renewal) + waitInterval, and the
      // stamp came after the renewal was sent: measured from the send, this is an upper bound.
      if (lastRenewal !== undefined) late.push(ms(BigInt(acquired.ts) - lastRenewal) - WAIT);
      await holder.exit;
      peers.delete(holder);
      holder = standby;
      standby = start();
      await standby.next('ready');
    }
  } finally {
    await Promise.all([...peers].map((p) => p.stop()));
  }
  return { kill, late, release };
}

/** Wraps a store to count the statements the engine sends through it. */
function countingStore(store: SqlLeaseStore): { store: SqlLeaseStore; statements: () => number } {
  let statements = 0;
  const wrapped: SqlLeaseStore = {
    ...store,
    run: (sql, params, options) => {
      statements++;
      return store.run(sql, params, options);
    },
    read: (name) => {
      statements++;
      return store.read(name);
    },
    transaction: (fn) => {
      statements++;
      return store.transaction(fn);
    },
  };
  return { store: wrapped, statements: () => statements };
}

/** Renewal latency and statements per renewal, in this process. */
async function measureRenewals(
  kind: StoreKind,
  db: string,
  table: string,
): Promise<{ latencies: number[]; perRenewal: number; serverPerRenewal?: { updated: number; scans: number } }> {
  const opened = await openStore(kind, db, table, { appName: 'hcb_renewals' });
  const name = `bench-renew-${randomBytes(3).toString('hex')}`;
  const pgStats = kind === 'postgres' ? await pgTableStats(db, table) : undefined;
  const { store, statements } = countingStore(opened.store);
  const lease = createLease({ store, name, machineName: 'bench-renewals', updateInterval: 20, waitInterval: 400, mode: 'warm' });
  const latencies: number[] = [];
  const sub = lease.events$.subscribe((e: LeaseEvent) => {
    if (e.type === 'renewed') latencies.push(e.latencyMs);
  });
  let perRenewal: number;
  let measured = false;
  try {
    await lease.acquire();
    const before = statements();
    const renewalsBefore = latencies.length;
    await new Promise((r) => setTimeout(r, RENEWAL_SECONDS * 1000));
    perRenewal = (statements() - before) / Math.max(1, latencies.length - renewalsBefore);
    measured = true;
  } finally {
    sub.unsubscribe();
    await lease.close();
    await opened.close();
    // Its socket would keep the bench process alive after a failed measurement.
    if (!measured) await pgStats?.close();
  }
  let serverPerRenewal: { updated: number; scans: number } | undefined;
  if (pgStats) {
    // The pool's backends have exited: their statistics are flushed. All renewals, the
    // acquisition and the release touched the table; count them all.
    const after = await pgStats.read();
    await pgStats.close();
    const changes = latencies.length + 2;
    serverPerRenewal = { updated: (after.updated - pgStats.before.updated) / changes, scans: (after.scans - pgStats.before.scans) / changes };
  }
  return { latencies, perRenewal, ...(serverPerRenewal ? { serverPerRenewal } : {}) };
}

async function pgTableStats(db: string, table: string) {
  const { default: pg } = await import('pg');
  const client = new pg.Client(db);
  await client.connect();
  const read = async (): Promise<{ updated: number; scans: number }> => {
    // Stats reach the shared view when a backend flushes them (at exit, or idle after ≥ 1 s).
    await new Promise((r) => setTimeout(r, 1200));
    await client.query('SELECT pg_stat_clear_snapshot()');
    const res = await client.query('SELECT n_tup_upd, n_tup_ins, idx_scan, seq_scan FROM pg_stat_user_tables WHERE relname = $1', [table]);
    const row = res.rows[0] as { n_tup_upd: string; idx_scan: string | null; seq_scan: string } | undefined;
    return { updated: Number(row?.n_tup_upd ?? 0), scans: Number(row?.idx_scan ?? 0) + Number(row?.seq_scan ?? 0) };
  };
  const before = await read();
  return { before, read, close: () => client.end() };
}

async function benchStore(kind: StoreKind): Promise<BenchRow[]> {
  const suite = `lease/${kind === 'mysql' ? 'mariadb' : kind}`;
  if (kind !== 'sqlite' && !(await databaseAvailable(kind))) {
    return [{ suite, name: 'skipped', value: 0, unit: '', note: `${kind} unreachable` }];
  }
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hotcold-bench-lease-'));
  const db = databaseFor(kind, path.join(dir, 'lease.db'));
  const table = `bench_${randomBytes(4).toString('hex')}_lease`;
  const admin = await openStore(kind, db, table, { appName: 'hcb_admin' });
  try {
    await admin.store.init();
    const { kill, late, release } = await measureTakeovers(kind, db, table);
    const renew = await measureRenewals(kind, db, table);
    const rows: BenchRow[] = [
      { suite, name: `SIGKILL → standby active, median (n=${kill.length})`, value: median(kill), unit: 'ms', target: `<= ${WAIT + 50}`, pass: median(kill) <= WAIT + 50 },
      { suite, name: 'SIGKILL → standby active, max', value: Math.max(...kill), unit: 'ms', target: `<= ${WAIT + 50}`, pass: Math.max(...kill) <= WAIT + 50 },
      { suite, name: 'expiry → standby active, max', value: Math.max(...late), unit: 'ms', note: 'from the last renewal send + waitInterval (upper bound)' },
      { suite, name: `release() → standby active, median (n=${release.length})`, value: median(release), unit: 'ms', target: '<= 100', pass: median(release) <= 100 },
      { suite, name: 'release() → standby active, max', value: Math.max(...release), unit: 'ms', target: '<= 100', pass: Math.max(...release) <= 100 },
      { suite, name: `renewal latency p50 (n=${renew.latencies.length})`, value: quantile(renew.latencies, 0.5), unit: 'ms' },
      { suite, name: 'renewal latency p99', value: quantile(renew.latencies, 0.99), unit: 'ms' },
      { suite, name: 'statements per renewal (client count)', value: renew.perRenewal, unit: 'stmt' },
    ];
    if (renew.serverPerRenewal) {
      rows.push({ suite, name: 'rows updated per lease change (pg_stat)', value: renew.serverPerRenewal.updated, unit: 'rows' });
      rows.push({ suite, name: 'table scans per lease change (pg_stat)', value: renew.serverPerRenewal.scans, unit: 'scans' });
    }
    return rows;
  } finally {
    const drop = `DROP TABLE IF EXISTS ${table}`;
    await admin.store.run(drop).catch(() => undefined);
    await admin.close().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

export async function runBench(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const kind of ['sqlite', 'postgres', 'mysql'] as const) {
    process.stderr.write(`bench lease: ${kind}...\n`);
    rows.push(...(await benchStore(kind)));
  }
  return rows;
}
