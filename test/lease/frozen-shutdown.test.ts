/**
 * Every close()/stop on the shutdown path is bounded, and so are operator commands, against a
 * PRIVATE PostgreSQL frozen by SIGSTOP (TCP still accepts; nothing answers). A store's close()
 * must not wait forever for a connection stuck on the frozen server; `hotcold node` must exit on
 * SIGTERM; `hotcold lease status` must end on its operator bound (--timeout-ms, 5000 ms by
 * default), not at the pool's default 10 s connect timeout.
 */
import { spawn } from 'node:child_process';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createLease, postgresStore } from '../../src/lease/index.js';
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { exited, ROOT, runLeaseCliInProcess, uniqueTable } from './helpers.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const within = <T>(p: Promise<T>, ms: number): Promise<T | 'still pending'> =>
  Promise.race([p, new Promise<'still pending'>((r) => setTimeout(() => r('still pending'), ms))]);

describe.runIf(privatePostgresAvailable())('shutdown and operator commands against a frozen PostgreSQL', () => {
  let db: PrivatePostgres;
  beforeAll(async () => {
    db = await startPrivatePostgres();
  }, 120_000);
  afterAll(async () => {
    await db?.stop();
  });
  afterEach(() => db.thaw());

  it('lease.close() and store.close() end while a connection is stuck on the frozen server', async () => {
    const table = uniqueTable('frz');
    const store = postgresStore(db.url, { table });
    const lease = createLease({ store, machineName: 'a', updateInterval: 300, waitInterval: 1500 });
    await lease.acquire();
    db.freeze();
    // An application transaction without a bound: it waits on the frozen server for ever.
    const stuck = store.transaction((tx) => tx.query('SELECT 1 AS one')).catch((e: Error) => e);
    await sleep(1000);
    expect(await within(lease.close().then(() => 'closed'), 20_000)).toBe('closed');
    expect(await within(store.close().then(() => 'closed'), 20_000)).toBe('closed');
    // the stuck transaction is failed, not left pending
    expect(await within(stuck, 5_000)).toBeInstanceOf(Error);
  }, 60_000);

  it('`hotcold node` exits after SIGTERM while the database is frozen', async () => {
    const s = uniqueTable('frn');
    const child = spawn(
      process.execPath,
      ['--import', 'tsx', 'src/cli/main.ts', 'node', '--db', db.url, '--machine', 'A', '--update-interval', '300', '--wait-interval', '1500', '--drain-timeout', '1000',
        '--table', `${s}_lease`, '--prefix', `${s}_l`, '--dedup-table', `${s}_idem`, '--feed-table', `${s}_feed`],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const gone = exited(child);
    try {
      for (let i = 0; i < 300 && !out.includes('"status":"active"'); i++) await sleep(100);
      expect(out).toContain('"node","status":"active"');
      db.freeze();
      await sleep(2500); // the lease is lost meanwhile; renewals are stuck on the frozen server
      child.kill('SIGTERM');
      // drain 1 s + bounded release and close; far below "never"
      expect(await within(gone.then((code) => `exited ${code}`), 30_000)).toBe('exited 0');
      expect(out).toContain('"event":"stopped"');
    } finally {
      child.kill('SIGKILL');
    }
  }, 90_000);

  it('`hotcold lease status` ends within the operator bound when the server does not answer the connection', async () => {
    db.freeze();
    // The operator bound (--timeout-ms, default 5000 ms) set to 1 s so the alternative is far
    // away: the pool's default connect timeout would end it only after 10 s. Ending before that is
    // the evidence that the bound covers opening the connection; how soon is a speed claim.
    const TIMEOUT_MS = 1000;
    const POOL_CONNECT_TIMEOUT_MS = 10_000;
    const started = performance.now();
    const result = await runLeaseCliInProcess(['lease', 'status', '--db', db.url, '--timeout-ms', String(TIMEOUT_MS)]);
    const elapsed = performance.now() - started;
    expect(result.code).toBe(1);
    expect(elapsed).toBeLessThan(POOL_CONNECT_TIMEOUT_MS);
  }, 60_000);
});
