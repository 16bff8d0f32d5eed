/**
 * A PostgreSQL primary whose `synchronous_standby_names` names a standby that never connects:
 * every COMMIT waits forever (statement_timeout does not end that wait) and keeps its row lock.
 * The kind of fault: a commit that waits on replication. Every round trip of the engine and every
 * operator action must be bounded on the client; the CLI says truthfully that a change may or may
 * not have been applied; `requireSynchronousReplication` refuses such a server at start.
 * A private server (initdb + pg_ctl): the shared one's settings are never changed.
 */
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLease, LeaseAdminTimeoutError, postgresStore, promoteLease, ReplicationModeError, type LeaseEvent } from '../../src/lease/index.js';
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { runCli } from './helpers.js';

/** Runs SQL in a session whose own commits do not wait for the standby (test set-up only). */
async function local(db: PrivatePostgres, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  try {
    await client.query('SET synchronous_commit = local');
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** From now on every commit waits for a standby that never comes (idempotent; new sessions see it at once). */
async function standbyAbsent(db: PrivatePostgres): Promise<void> {
  await local(db, `ALTER SYSTEM SET synchronous_standby_names = 'absent'`);
  await local(db, 'SELECT pg_reload_conf()');
}

/** The lease table's own DDL (what `hotcold lease init --print` prints). */
const DDL = (table: string): string => postgresStore('postgres://unused@127.0.0.1:1/x', { table }).ddl().join(';\n');

describe.runIf(privatePostgresAvailable())('a commit that waits on replication (synchronous_standby_names names an absent standby)', () => {
  let db: PrivatePostgres;
  beforeAll(async () => {
    db = await startPrivatePostgres();
    await local(db, DDL('hotcold_lease'));
    await local(db, DDL('lease_renew'));
    await local(db, DDL('lease_refuse'));
  }, 120_000);
  afterAll(() => db?.stop());

  it('a holder whose renewals start waiting on replication counts them as failed and fences itself on time (no hang)', async () => {
    const store = postgresStore(db.url, { table: 'lease_renew' });
    const lease = createLease({ store, name: 'renew', machineName: 'holder', updateInterval: 200, waitInterval: 3000 });
    const events: LeaseEvent[] = [];
    const sub = lease.events$.subscribe((e) => events.push(e));
    try {
      const held = await lease.acquire();
      await standbyAbsent(db);
      await new Promise((resolve) => held.signal.addEventListener('abort', resolve, { once: true }));
      expect(held.isValid()).toBe(false);
      expect(events.some((e) => e.type === 'renew-failed')).toBe(true);
      const lost = events.find((e) => e.type === 'lost');
      expect(lost?.type === 'lost' && lost.reason).toMatch(/self-fencing deadline/);
    } finally {
      sub.unsubscribe();
      await lease.close();
      await store.close();
    }
  }, 60_000);

  it('hotcold lease status: "synchronous, no standby connected"', async () => {
    await standbyAbsent(db);
    const status = await runCli(['lease', 'status', '--db', db.url, '--timeout-ms', '10000']);
    expect(status.stderr).toBe('');
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('synchronous, no standby connected');
  }, 60_000);

  it('requireSynchronousReplication refuses the server at start with ReplicationModeError (no hang)', async () => {
    await standbyAbsent(db);
    const store = postgresStore(db.url, { table: 'lease_refuse' });
    const lease = createLease({ store, name: 'refuse', machineName: 'strict', updateInterval: 200, waitInterval: 3000, requireSynchronousReplication: true });
    try {
      const error = await lease.acquire().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ReplicationModeError);
      expect((error as ReplicationModeError).replication).toMatchObject({ mode: 'synchronous', standbyConnected: false });
      expect((error as Error).message).toContain('no standby connected');
    } finally {
      await lease.close();
      await store.close();
    }
  }, 60_000);

  it("the engine's table creation is bounded: a CREATE TABLE waiting on replication is a reported, retried fault", async () => {
    await standbyAbsent(db);
    const store = postgresStore(db.url, { table: 'lease_fresh' });
    const lease = createLease({ store, name: 'fresh', machineName: 'starter', updateInterval: 200, waitInterval: 3000 });
    try {
      const warned = new Promise<string>((resolve) => {
        lease.events$.subscribe((e) => {
          if (e.type === 'warning') resolve(e.message);
        });
      });
      void lease.acquire().catch(() => undefined);
      expect(await warned).toMatch(/did not complete within/);
    } finally {
      await lease.close();
      await store.close();
    }
  }, 60_000);

  it('hotcold lease init: ends at --timeout-ms with exit 1 and says the change may or may not have been applied', async () => {
    await standbyAbsent(db);
    const init = await runCli(['lease', 'init', '--db', db.url, '--table', 'lease_cli_init', '--timeout-ms', '1500']);
    expect(init.code).toBe(1);
    expect(init.stderr).toMatch(/MAY OR MAY NOT have been applied/);
  }, 60_000);

  it('hotcold lease promote --force: ends at --timeout-ms with exit 1, "may or may not"; promoteLease rejects with LeaseAdminTimeoutError (committed undefined)', async () => {
    await standbyAbsent(db);
    await local(db, `INSERT INTO hotcold_lease (name, holder, token, renewed_at, wait_interval_ms) VALUES ('hotcold', 'old#1', 5, 0, 1000), ('api', 'old#2', 5, 0, 1000)`);
    const promote = await runCli(['lease', 'promote', '--force', '--db', db.url, '--timeout-ms', '1500']);
    expect(promote.code).toBe(1);
    expect(promote.stderr).toMatch(/MAY OR MAY NOT have been applied/);
    const store = postgresStore(db.url);
    try {
      const error = await promoteLease(store, 'api', { force: true, timeoutMs: 1500 }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(LeaseAdminTimeoutError);
      expect((error as LeaseAdminTimeoutError).committed).toBeUndefined();
    } finally {
      await store.close();
    }
  }, 60_000);

  it('hotcold lease release behind the waiting commit (its row lock): bounded, exit 1', async () => {
    await standbyAbsent(db);
    const release = await runCli(['lease', 'release', '--db', db.url, '--timeout-ms', '1500']);
    expect(release.code).toBe(1);
    expect(release.stderr).not.toBe('');
  }, 60_000);
});
