/**
 * A connection string or database path that can never work is a permanent misconfiguration:
 * `acquire()` must reject (or the store's constructor throw) with a typed error naming the
 * field, never retry it forever behind a `warning` event every `pollInterval`, and never carry
 * the password — not in the message, not in any property of the error or its cause.
 *
 * Found by attacking the lease: `postgres://u:pw@host:99999/db` (a port out of range) and the same
 * for mysql:// made `acquire()` hang for ever, ~40 "Invalid URL" warnings a second; a SQLite path
 * in a missing directory, a directory, or a read-only directory did the same ("unable to open
 * database file", "attempt to write a readonly database" with SQLite's extended code
 * SQLITE_READONLY_DIRECTORY, which the privilege check did not recognise).
 */
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { StoreConfigurationError, StorePrivilegeError, createLease, mysqlStore, postgresStore, sqliteStore, storeFromUrl, type LeaseStore } from '../../src/lease/index.js';
import { ROOT, delay, uniqueTable } from './helpers.js';

const SETTLE_MS = 10_000;

/** acquire() raced against a generous bound: 'still pending' is the hang. */
async function acquireOutcome(store: LeaseStore, warnings: string[] = []): Promise<unknown> {
  const lease = createLease({ store, machineName: 'misconfigured', updateInterval: 200, waitInterval: 1000 });
  lease.events$.subscribe((e) => {
    if (e.type === 'warning') warnings.push(e.message);
  });
  try {
    return await Promise.race([
      lease.acquire().then(
        (held) => `acquired token ${held.token}`,
        (error: unknown) => error,
      ),
      delay(SETTLE_MS).then(() => `still pending after ${SETTLE_MS} ms`),
    ]);
  } finally {
    await lease.close().catch(() => undefined);
    await store.close().catch(() => undefined);
  }
}

/** Everything an error exposes, its causes included, as text. */
function everything(error: unknown, depth = 0): string {
  if (depth > 4 || typeof error !== 'object' || error === null) return String(error);
  const own = Object.getOwnPropertyNames(error).map((key) => {
    const value = (error as Record<string, unknown>)[key];
    return `${key}=${typeof value === 'object' && value !== null ? everything(value, depth + 1) : String(value)}`;
  });
  return own.join(' ');
}

describe('an invalid connection string is refused, never retried', () => {
  const secret = `pw-${randomBytes(6).toString('hex')}`;

  it.each([
    ['postgresStore', (): unknown => postgresStore(`postgres://app:${secret}@127.0.0.1:99999/app`), 'connectionString'],
    ['mysqlStore', (): unknown => mysqlStore(`mysql://app:${secret}@127.0.0.1:99999/app`), 'uri'],
    ['storeFromUrl (postgres)', (): unknown => storeFromUrl(`postgresql://app:${secret}@127.0.0.1:99999/app`), 'connectionString'],
    ['storeFromUrl (mariadb)', (): unknown => storeFromUrl(`mariadb://app:${secret}@127.0.0.1:99999/app`), 'uri'],
    ['mysqlStore (bad percent-encoding)', (): unknown => mysqlStore(`mysql://app:${secret}%E0%A4%A@127.0.0.1:3306/app`), 'uri'],
    // A scheme without its two slashes: the drivers read user, password and host as the database's
    // name and connect to the default server (a local socket, 127.0.0.1) instead.
    ['postgresStore (postgres:/, one slash)', (): unknown => postgresStore(`postgres:/app:${secret}@db.invalid/app`), 'connectionString'],
    ['storeFromUrl (postgresql:, no slash)', (): unknown => storeFromUrl(`postgresql:app:${secret}@db.invalid/app`), 'connectionString'],
    ['mysqlStore (mysql:/, one slash)', (): unknown => mysqlStore(`mysql:/app:${secret}@db.invalid/app`), 'uri'],
    ['storeFromUrl (MariaDB:, no slash)', (): unknown => storeFromUrl(`MariaDB:app:${secret}@db.invalid/app`), 'uri'],
  ])('%s throws ConfigurationError naming the field, without the password', (_, make, field) => {
    let thrown: unknown;
    try {
      make();
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as ConfigurationError).field).toBe(field);
    expect(everything(thrown)).not.toContain(secret);
  });

  it('a valid URL is still accepted (no connection is made at construction)', async () => {
    for (const store of [
      postgresStore(`postgres://app:${secret}@db.invalid:5432/app`),
      postgresStore('/var/run/postgresql app'),
      // libpq's own forms without a host: the default socket.
      postgresStore('postgres:///app'),
      postgresStore(`postgres://app:${secret}@/app`),
      mysqlStore(`mariadb://app:${secret}@db.invalid/app`),
    ]) {
      await store.close();
    }
  });

  it("a user's pg.Pool with an invalid connection string: acquire() rejects with StoreConfigurationError, without the password anywhere", async () => {
    const pool = new pg.Pool({ connectionString: `postgres://app:${secret}@127.0.0.1:99999/app`, max: 1 });
    pool.on('error', () => undefined);
    const warnings: string[] = [];
    try {
      const outcome = await acquireOutcome(postgresStore(pool, { table: uniqueTable() }), warnings);
      expect(outcome, String(outcome)).toBeInstanceOf(StoreConfigurationError);
      expect((outcome as StoreConfigurationError).message).toMatch(/connection string/);
      expect(everything(outcome)).not.toContain(secret);
      expect(warnings.join('\n')).not.toContain(secret);
    } finally {
      await pool.end();
    }
  }, 30_000);
});

describe('a SQLite location that can never be opened is refused, never retried', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-location-'));
  // Readable by the unprivileged process of the read-only case.
  chmodSync(dir, 0o755);
  afterAll(() => {
    chmodSync(dir, 0o755);
    rmSync(dir, { recursive: true, force: true });
  });

  it('a file in a directory that does not exist: StoreConfigurationError (fault location)', async () => {
    const outcome = await acquireOutcome(sqliteStore(join(dir, 'missing', 'app.db')));
    expect(outcome, String(outcome)).toBeInstanceOf(StoreConfigurationError);
    expect((outcome as StoreConfigurationError).fault).toBe('location');
  }, 30_000);

  it('a path that is a directory: StoreConfigurationError (fault location)', async () => {
    const sub = join(dir, 'a-directory');
    mkdirSync(sub);
    const outcome = await acquireOutcome(sqliteStore(sub));
    expect(outcome, String(outcome)).toBeInstanceOf(StoreConfigurationError);
    expect((outcome as StoreConfigurationError).fault).toBe('location');
  }, 30_000);

  // A root process ignores file modes: the attempt runs as nobody then, which needs to read the
  // checkout (a clone under /root is not readable by nobody).
  const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
  const readable =
    spawnSync(process.execPath, ['-e', `require('fs').accessSync(${JSON.stringify(join(ROOT, 'node_modules', 'tsx', 'package.json'))})`], { cwd: '/', ...asNobody }).status === 0;
  if (!readable) console.warn('SKIPPED: the read-only directory case (the checkout is not readable by the unprivileged user)');

  it.runIf(readable)('a database in a read-only directory (a process without write access): StorePrivilegeError, also when the lease file exists', async () => {
    for (const leaseFileFirst of [false, true]) {
      const sub = join(dir, `ro-${String(leaseFileFirst)}`);
      mkdirSync(sub);
      const file = join(sub, 'app.db');
      const ready = sqliteStore(file);
      if (leaseFileFirst) await ready.init();
      else await ready.run('CREATE TABLE app_data (a)');
      await ready.close();
      chmodSync(sub, 0o555);
      for (const name of leaseFileFirst ? ['app.db', 'app.db-lease'] : ['app.db']) chmodSync(join(sub, name), 0o444);
      const child = spawn(process.execPath, ['--import', 'tsx', 'test/lease/fixtures/acquire-once.ts', file, 'hotcold_lease', 'cold'], {
        cwd: ROOT,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, TSX_TSCONFIG_PATH: join(ROOT, 'tsconfig.json') },
        ...asNobody,
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const outcome = await Promise.race([
        new Promise<string>((resolve) => child.once('exit', () => resolve(stdout))),
        delay(SETTLE_MS + 20_000).then(() => 'still pending'),
      ]);
      child.kill('SIGKILL');
      expect(outcome, `${outcome} ${stderr}`).toMatch(/"error":"StorePrivilegeError"/);
      expect(JSON.parse(outcome.trim()) as { fault: string }).toMatchObject({ fault: 'privileges' });
    }
  }, 90_000);

  it('StorePrivilegeError is what the privilege fault is called', () => {
    expect(new StorePrivilegeError('x').fault).toBe('privileges');
  });
});
