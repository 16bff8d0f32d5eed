/**
 * The lease across a failover of the lease database itself, on real replication: a private
 * PostgreSQL 15 primary + streaming replica, and a private MariaDB primary + replica, promoted
 * while replication is held back (docs/lease.md "Replicated databases"). The short version of
 * `npm run stress -- --replication`; no timing assertion anywhere (the stall ends when a takeover
 * has written, every wait is for a condition).
 *
 * On main before failover generations: token values issued to two holders and token order going
 * back in every run (see the report quoted in docs/lease.md).
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLease, FencingError, GENERATION_HOLDER, postgresStore, mysqlStore, ReplicationModeError, tokenGeneration, type LeaseEvent } from 'hotcold/lease';
import { privatePostgresAvailable } from '../../support/private-postgres.js';
import { privateMariadbAvailable } from '../../support/replicated-mariadb.js';
import { mariadbCluster, postgresCluster } from './clusters.js';
import { runFailovers, type FailoverCluster, type FailoverReport } from './driver.js';

const hasPg = privatePostgresAvailable();
const hasMariadb = privateMariadbAvailable();
const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const seed = (): number => Number(process.env.HOTCOLD_STRESS_SEED ?? Date.now() % 2 ** 31);

function expectSafe(report: FailoverReport): void {
  console.log(report.summary);
  expect(report.violations, report.summary).toEqual([]);
  expect(report.result.acceptedWrites, report.summary).toBeGreaterThan(0);
}

function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe.runIf(hasPg)('lease across a PostgreSQL failover, asynchronous streaming replication', () => {
  let cluster: FailoverCluster | undefined;
  beforeAll(async () => {
    cluster = await postgresCluster('async');
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('a holder of the old timeline is fenced on the promoted primary; the next token is of the new generation, issued only after the mark expired', async () => {
    const c = cluster as FailoverCluster;
    const store = postgresStore(c.url, { table: 'gen_lease', connectTimeoutMs: 2000 });
    const a = createLease({ store, name: 'gen', machineName: 'a', updateInterval: 100, waitInterval: 500, mode: 'cold' });
    const b = createLease({ store, name: 'gen', machineName: 'b', updateInterval: 100, waitInterval: 500, mode: 'cold' });
    try {
      const held = await a.acquire();
      expect(tokenGeneration(held.token)).toBe(0);
      // Under load the replication check can fail; the lease then reports 'unknown' (generation 0)
      // by design and says why (lease.ts checkReplication). Seen twice in one session's runs.
      if (a.state.replication?.mode === 'unknown') expect(a.state.replication.detail).toMatch(/the replication check failed/);
      else expect(a.state.replication).toMatchObject({ mode: 'asynchronous', generation: 0 });
      await c.caughtUp?.();
      // The takeover that the failover loses: replication is held back, A releases, B acquires.
      c.stallReplication();
      await a.release();
      const lostHeld = await b.acquire();
      expect(lostHeld.token).toBe(held.token + 1);
      await b.release();
      await c.failover('kill-first');
      // A's token (and B's, never replicated) belong to generation 0: fenced, whatever the row says.
      await expect(store.transaction((tx) => store.assertHeld(tx, 'gen', lostHeld.token))).rejects.toThrow(FencingError);
      await expect(store.transaction((tx) => store.assertHeld(tx, 'gen', held.token))).rejects.toThrow(/failed over to generation 1/);
      const events: LeaseEvent[] = [];
      const sub = a.events$.subscribe((e) => events.push(e));
      const states: (string | undefined)[] = [];
      const stateSub = a.state$.subscribe((s) => states.push(s.holder));
      const next = await a.acquire();
      sub.unsubscribe();
      stateSub.unsubscribe();
      // Never the token B was issued on the lost primary, nor anything at or below it.
      expect(tokenGeneration(next.token)).toBe(1);
      expect(next.token).toBeGreaterThan(lostHeld.token);
      const types = events.map((e) => e.type);
      expect(types).toContain('generation-changed');
      expect(types.indexOf('generation-changed')).toBeLessThan(types.indexOf('acquired'));
      // Between the mark and the acquisition the row was held by the generation marker.
      expect(states).toContain(GENERATION_HOLDER);
      const replication = events.find((e): e is Extract<LeaseEvent, { type: 'replication' }> => e.type === 'replication');
      // The check may fail under load (a slow catalog read, the just-promoted primary busy): the
      // lease then reports mode 'unknown', generation 0, by design (lease.ts checkReplication),
      // and the fencing asserted around it is what this test is about. A check that answered
      // must name the new generation.
      if (replication?.replication.mode === 'unknown') expect(replication.replication.detail).toMatch(/the replication check failed/);
      else expect(replication?.replication.generation).toBe(1);
      // assertHeld names the holder: B presenting A's current token is refused.
      await expect(store.transaction((tx) => b.assertHeld(tx, next.token))).rejects.toThrow(/names another holder/);
      await store.transaction((tx) => a.assertHeld(tx, next.token));
      // The operator's view: replication mode, token generation.
      const status = await cli(['lease', 'status', '--db', c.url, '--name', 'gen', '--table', 'gen_lease']);
      expect(status.code, status.stderr).toBe(0);
      expect(status.stdout).toContain('failover generation 1; the database is in generation 1');
      expect(status.stdout).toMatch(/replication: +asynchronous/);
      await c.addReplica();
    } finally {
      await a.close();
      await b.close();
      await store.close();
    }
  }, 240_000);

  it('requireSynchronousReplication: acquire() rejects with ReplicationModeError and writes nothing', async () => {
    const c = cluster as FailoverCluster;
    const store = postgresStore(c.url, { table: 'sync_only_lease', connectTimeoutMs: 2000 });
    const lease = createLease({ store, name: 'sync-only', machineName: 'x', updateInterval: 100, waitInterval: 500, mode: 'warm', requireSynchronousReplication: true });
    try {
      const error = await lease.acquire().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicationModeError);
      expect((error as ReplicationModeError).fault).toBe('replication');
      expect((error as ReplicationModeError).replication.mode).toBe('asynchronous');
      expect((error as ReplicationModeError).message).toContain('synchronous_commit=');
      // Refused before any write — the lease table is not even created.
      const read = await store.read('sync-only').catch((e: unknown) => e);
      expect(read === null || (read instanceof Error && /does not exist/.test(read.message))).toBe(true);
    } finally {
      await lease.close();
      await store.close();
    }
  }, 120_000);

  it('warm contenders, SIGKILL/release during a replication stall, primary killed or switched away: no token twice, no order going back, no overlap, no superseded write survives', async () => {
    const report = await runFailovers({
      cluster: cluster as FailoverCluster,
      mode: 'async',
      failovers: 2,
      synchronous: false,
      seed: seed(),
      // Held back until the takeover on the doomed primary has written (a condition, not a time).
      stallMs: 60_000,
      faults: ['release', 'kill'],
    });
    expectSafe(report);
    expect(report.takeoversDuringStall, report.summary).toBeGreaterThanOrEqual(1);
  }, 600_000);
});

describe.runIf(hasPg)('lease across a PostgreSQL failover, synchronous replication (synchronous_commit = on)', () => {
  let cluster: FailoverCluster | undefined;
  beforeAll(async () => {
    cluster = await postgresCluster('on');
  }, 180_000);
  afterAll(async () => {
    await cluster?.stop();
  }, 60_000);

  it('reports synchronous, and a failover loses no acknowledged commit and breaks no lease property', async () => {
    const c = cluster as FailoverCluster;
    const store = postgresStore(c.url, { table: 'sync_probe', connectTimeoutMs: 2000 });
    try {
      const info = await store.replication?.();
      expect(info?.mode).toBe('synchronous');
      expect(info?.detail).toContain('synchronous_commit=on');
    } finally {
      await store.close();
    }
    // A takeover cannot commit while the standby does not acknowledge: the stall is a fixed fault.
    const report = await runFailovers({ cluster: c, mode: 'on', failovers: 1, synchronous: true, seed: seed(), stallMs: 1500 });
    expectSafe(report);
    expect(report.lostWrites, report.summary).toBe(0);
  }, 600_000);
});

describe.runIf(hasMariadb)('lease across a MariaDB failover (binlog replication, gtid_domain_id raised on promotion)', () => {
  it('asynchronous: no token twice, no order going back, no overlap, no superseded write survives', async () => {
    const cluster = await mariadbCluster('async');
    try {
      const store = mysqlStore(cluster.url, { table: 'probe_lease' });
      try {
        expect((await store.replication?.())?.mode).toBe('asynchronous');
      } finally {
        await store.close();
      }
      const report = await runFailovers({ cluster, mode: 'async', failovers: 1, synchronous: false, seed: seed(), stallMs: 60_000, faults: ['release', 'kill'] });
      expectSafe(report);
      expect(report.takeoversDuringStall, report.summary).toBe(1);
    } finally {
      await cluster.stop();
    }
  }, 600_000);

  it('semi-synchronous (AFTER_SYNC): reported synchronous; a failover loses no acknowledged commit', async () => {
    const cluster = await mariadbCluster('semisync');
    try {
      const store = mysqlStore(cluster.url, { table: 'probe_lease' });
      try {
        const info = await store.replication?.();
        expect(info?.mode, info?.detail).toBe('synchronous');
        expect(info?.detail).toContain('rpl_semi_sync_master_wait_point=AFTER_SYNC');
      } finally {
        await store.close();
      }
      const report = await runFailovers({ cluster, mode: 'semisync', failovers: 1, synchronous: true, seed: seed(), stallMs: 1500 });
      expectSafe(report);
      expect(report.lostWrites, report.summary).toBe(0);
    } finally {
      await cluster.stop();
    }
  }, 600_000);
});
