/**
 * Issue 7 point 4: bad configuration fails loudly. A permanent fault — driver missing, login
 * refused, database missing, a table of the wrong shape, a missing privilege — rejects
 * `acquire()` (cold and warm) with a typed error naming the cause and the fix, and makes
 * `hotcold node` exit non-zero; it is never retried forever behind `warning` events.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DatabaseMissingError,
  DriverMissingError,
  StoreAuthenticationError,
  StoreConfigurationError,
  StorePrivilegeError,
  StoreSchemaError,
  createLease,
  sqliteStore,
  storeFromUrl,
  type LeaseMode,
} from '../../src/lease/index.js';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { ROOT, delay, uniqueTable } from './helpers.js';

const pgUp = await databaseAvailable('postgres');
const mysqlUp = await databaseAvailable('mysql');
const SETTLE_MS = 15_000;

/** acquire() in this process, raced against a generous bound: 'still pending' is the hang. */
async function acquireOutcome(url: string, table: string, mode: LeaseMode): Promise<unknown> {
  const store = storeFromUrl(url, { table });
  const lease = createLease({ store, machineName: 'misconfigured', updateInterval: 200, waitInterval: 1000, mode });
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

async function expectBoth(url: string, table: string, type: new (...args: never[]) => StoreConfigurationError, message: RegExp): Promise<void> {
  for (const mode of ['cold', 'warm'] as const) {
    const outcome = await acquireOutcome(url, table, mode);
    expect(outcome, `${mode}: ${String(outcome)}`).toBeInstanceOf(type);
    expect((outcome as Error).message).toMatch(message);
  }
}

/** Runs a command under the hook that hides the database drivers; resolves with its exit and output. */
function withoutDrivers(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', './test/lease/fixtures/without-drivers.mjs', '--import', 'tsx', ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`still running after 30 s (hang); stdout: ${stdout}; stderr: ${stderr}`));
    }, 30_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('a missing driver', () => {
  const cases = [
    { url: PG_URL, pkg: 'pg' },
    { url: MYSQL_URL, pkg: 'mysql2' },
    { url: 'sqlite:/tmp/hotcold-no-driver.db', pkg: 'better-sqlite3' },
  ];
  for (const { url, pkg } of cases) {
    for (const mode of ['cold', 'warm']) {
      it(`${pkg} (${mode}): acquire() rejects with DriverMissingError naming 'npm install ${pkg}'`, async () => {
        const { stdout, stderr } = await withoutDrivers(['test/lease/fixtures/acquire-once.ts', url, uniqueTable(), mode]);
        const line = stdout.split('\n').find((l) => l.startsWith('{'));
        expect(line, stderr).toBeDefined();
        const outcome = JSON.parse(line ?? '{}') as { error?: string; fault?: string; message?: string };
        expect(outcome.error).toBe('DriverMissingError');
        expect(outcome.fault).toBe('driver-missing');
        // An installable package: `npm install mysql2`, not `mysql2/promise`.
        expect(outcome.message).toMatch(new RegExp(`npm install ${pkg}$`));
      }, 40_000);
    }
  }

  it('hotcold node exits non-zero at start, naming the package to install', async () => {
    const { code, stderr } = await withoutDrivers(['src/cli/main.ts', 'node', '--db', MYSQL_URL, '--table', uniqueTable()]);
    expect(code).not.toBe(0);
    expect(stderr).toMatch(/npm install mysql2(\s|$)/);
  }, 40_000);

  it('DriverMissingError is a StoreConfigurationError', () => {
    const error = new DriverMissingError('mysql2/promise', 'mysqlStore');
    expect(error).toBeInstanceOf(StoreConfigurationError);
    expect(error.packageName).toBe('mysql2');
    expect(error.fix).toBe('npm install mysql2');
  });
});

describe('permanent faults on SQLite', () => {
  it('a lease table of the wrong shape rejects with StoreSchemaError', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'hotcold-shape-'));
    try {
      const path = join(dir, 'lease.db');
      const table = uniqueTable();
      const setup = sqliteStore(path, { table: uniqueTable() });
      await setup.transaction((tx) => tx.execute(`CREATE TABLE ${table} (name TEXT PRIMARY KEY, owner TEXT)`));
      await setup.close();
      await expectBoth(path, table, StoreSchemaError, /lacks the column\(s\) holder, token, version, renewed_at, wait_interval_ms/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe.runIf(pgUp)('permanent faults on PostgreSQL', () => {
  const role = `hc_np_${randomBytes(4).toString('hex')}`;
  const admin = storeFromUrl(PG_URL, { table: uniqueTable() });
  const created: string[] = [];
  beforeAll(async () => {
    await admin.run?.(`CREATE ROLE ${role} LOGIN`);
  });
  afterAll(async () => {
    for (const t of created) await admin.run?.(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
    await admin.run?.(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    await admin.close();
  });
  const asRole = (): string => {
    const url = new URL(PG_URL);
    url.username = role;
    return url.toString();
  };

  it('a missing database rejects with DatabaseMissingError', async () => {
    const url = new URL(PG_URL);
    url.pathname = `/hc_missing_${randomBytes(4).toString('hex')}`;
    await expectBoth(url.toString(), uniqueTable(), DatabaseMissingError, /does not exist.*create the database/);
  }, 60_000);

  it('a lease table of the wrong shape rejects with StoreSchemaError naming the columns', async () => {
    const table = uniqueTable();
    created.push(table);
    await admin.run?.(`CREATE TABLE ${table} (name TEXT PRIMARY KEY, owner TEXT)`);
    await expectBoth(PG_URL, table, StoreSchemaError, /lacks the column\(s\) holder, token, version, renewed_at, wait_interval_ms/);
  }, 60_000);

  it('hotcold node exits non-zero on a lease table of the wrong shape', async () => {
    const table = uniqueTable();
    created.push(table);
    await admin.run?.(`CREATE TABLE ${table} (name TEXT PRIMARY KEY, owner TEXT)`);
    const p = uniqueTable('p');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'node', '--db', PG_URL, '--table', table, '--prefix', p, '--dedup-table', `${p}_d`, '--feed-table', `${p}_f`], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    created.push(`${p}_entries`, `${p}_accounts`, `${p}_d`, `${p}_f`, `${p}_f_counter`);
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const code = await Promise.race([new Promise((r) => child.once('exit', r)), delay(30_000).then(() => 'still running')]);
    if (code === 'still running') child.kill('SIGKILL');
    expect(code).toBe(1);
    expect(stderr).toMatch(/lacks the column/);
  }, 40_000);

  it('hotcold node exits 1 when contending meets a missing privilege (lease table read-only for its user)', async () => {
    const table = uniqueTable();
    const p = uniqueTable('p');
    const names = [table, `${p}_entries`, `${p}_accounts`, `${p}_d`, `${p}_f`, `${p}_f_seq`];
    created.push(...names);
    // Every table exists and is the user's to write, except the lease table: SELECT only. Nothing
    // is granted on the shared schema: the node creates nothing that exists, and a GRANT/REVOKE
    // on schema public races the same statement of another run on the shared server ("tuple
    // concurrently updated"), which left the role able to create tables for the next test.
    const leaseStore = storeFromUrl(PG_URL, { table });
    await leaseStore.init();
    await leaseStore.close();
    const setup = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'node', '--db', PG_URL, '--table', table, '--prefix', p, '--dedup-table', `${p}_d`, '--feed-table', `${p}_f`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let setupOut = '';
    setup.stdout.on('data', (d: Buffer) => (setupOut += d.toString()));
    const until = Date.now() + 30_000;
    while (!setupOut.includes('"event":"listening"') && Date.now() < until) await delay(50);
    setup.kill('SIGKILL');
    await new Promise((r) => setup.once('exit', r));
    for (const name of names.slice(1)) await admin.run?.(`GRANT ALL ON ${name} TO ${role}`);
    await admin.run?.(`GRANT SELECT ON ${table} TO ${role}`);
    try {
      const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'node', '--db', asRole(), '--table', table, '--lease-name', 'other', '--prefix', p, '--dedup-table', `${p}_d`, '--feed-table', `${p}_f`], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      const code = await Promise.race([new Promise((r) => child.once('exit', r)), delay(30_000).then(() => 'still running')]);
      if (code === 'still running') child.kill('SIGKILL');
      expect(stdout).toContain('"event":"listening"');
      expect(stderr).toContain('"permanent":true');
      expect(code).toBe(1);
      expect(stderr).toMatch(/hotcold: .*lacks a privilege/);
    } finally {
      for (const name of names) await admin.run?.(`REVOKE ALL ON ${name} FROM ${role}`).catch(() => undefined);
    }
  }, 60_000);

  it('a user without privileges on the table rejects with StorePrivilegeError', async () => {
    const table = uniqueTable();
    created.push(table);
    const store = storeFromUrl(PG_URL, { table });
    await store.init();
    await store.close();
    await expectBoth(asRole(), table, StorePrivilegeError, /lacks a privilege.*grant the user/);
  }, 60_000);

  it('a user who may not create the missing table rejects with StorePrivilegeError', async () => {
    await expectBoth(asRole(), uniqueTable(), StorePrivilegeError, /lacks a privilege/);
  }, 60_000);

  it('a least-privilege user (SELECT, INSERT, UPDATE on a table a DBA created) acquires: no DDL is attempted', async () => {
    const table = uniqueTable();
    created.push(table);
    const store = storeFromUrl(PG_URL, { table });
    await store.init();
    await store.close();
    await admin.run?.(`GRANT SELECT, INSERT, UPDATE ON ${table} TO ${role}`);
    expect(await acquireOutcome(asRole(), table, 'cold')).toMatch(/^acquired token/);
    await admin.run?.(`REVOKE ALL ON ${table} FROM ${role}`);
  }, 60_000);
});

describe.runIf(pgUp && privatePostgresAvailable())('a wrong password on PostgreSQL (private instance with scram-sha-256)', () => {
  let server: PrivatePostgres | undefined;
  beforeAll(async () => {
    server = await startPrivatePostgres({ password: `right-${randomBytes(6).toString('hex')}` });
  }, 60_000);
  afterAll(async () => server?.stop());

  it('rejects with StoreAuthenticationError, without the password in the message', async () => {
    const wrong = `wrong-${randomBytes(6).toString('hex')}`;
    const url = server!.urlFor('postgres', wrong);
    for (const mode of ['cold', 'warm'] as const) {
      const outcome = await acquireOutcome(url, uniqueTable(), mode);
      expect(outcome, String(outcome)).toBeInstanceOf(StoreAuthenticationError);
      expect((outcome as Error).message).toMatch(/refused the login.*check the user and password/);
      expect((outcome as Error).message).not.toContain(wrong);
    }
    // The right password works: the fault was the password, nothing else.
    expect(await acquireOutcome(server!.url, uniqueTable(), 'cold')).toMatch(/^acquired token/);
  }, 60_000);
});

describe.runIf(mysqlUp)('permanent faults on MariaDB', () => {
  const suffix = randomBytes(4).toString('hex');
  const pwUser = `hc_pw_${suffix}`;
  const npUser = `hc_np_${suffix}`;
  const admin = storeFromUrl(MYSQL_URL, { table: uniqueTable() });
  const created: string[] = [];
  const password = `right-${suffix}`;
  beforeAll(async () => {
    await admin.run?.(`CREATE USER '${pwUser}'@'%' IDENTIFIED BY '${password}'`);
    await admin.run?.(`GRANT ALL ON test.* TO '${pwUser}'@'%'`);
    await admin.run?.(`CREATE USER '${npUser}'@'%'`);
  });
  afterAll(async () => {
    for (const t of created) await admin.run?.(`DROP TABLE IF EXISTS ${t}`).catch(() => undefined);
    await admin.run?.(`DROP USER IF EXISTS '${pwUser}'@'%'`).catch(() => undefined);
    await admin.run?.(`DROP USER IF EXISTS '${npUser}'@'%'`).catch(() => undefined);
    await admin.close();
  });
  const as = (user: string, pw?: string): string => {
    const url = new URL(MYSQL_URL);
    url.username = user;
    url.password = pw ?? '';
    return url.toString();
  };

  it('a wrong password rejects with StoreAuthenticationError, without the password in the message', async () => {
    const wrong = `wrong-${suffix}`;
    for (const mode of ['cold', 'warm'] as const) {
      const outcome = await acquireOutcome(as(pwUser, wrong), uniqueTable(), mode);
      expect(outcome, String(outcome)).toBeInstanceOf(StoreAuthenticationError);
      expect((outcome as Error).message).not.toContain(wrong);
    }
    const table = uniqueTable();
    created.push(table);
    expect(await acquireOutcome(as(pwUser, password), table, 'cold')).toMatch(/^acquired token/);
  }, 60_000);

  it('a missing database rejects with DatabaseMissingError', async () => {
    const url = new URL(MYSQL_URL);
    url.pathname = `/hc_missing_${suffix}`;
    await expectBoth(url.toString(), uniqueTable(), DatabaseMissingError, /create the database/);
  }, 60_000);

  it('a lease table of the wrong shape rejects with StoreSchemaError', async () => {
    const table = uniqueTable();
    created.push(table);
    await admin.run?.(`CREATE TABLE ${table} (name VARCHAR(191) PRIMARY KEY, owner TEXT)`);
    await expectBoth(MYSQL_URL, table, StoreSchemaError, /lacks the column\(s\) holder, token/);
  }, 60_000);

  it('a user without access to the database rejects with StorePrivilegeError', async () => {
    await expectBoth(as(npUser), uniqueTable(), StorePrivilegeError, /lacks a privilege/);
  }, 60_000);

  it('a user who may only read the lease table rejects with StorePrivilegeError', async () => {
    const table = uniqueTable();
    created.push(table);
    const store = storeFromUrl(MYSQL_URL, { table });
    await store.init();
    await store.close();
    await admin.run?.(`GRANT SELECT ON test.${table} TO '${npUser}'@'%'`);
    await expectBoth(as(npUser), table, StorePrivilegeError, /lacks a privilege/);
  }, 60_000);
});
