/**
 * Fencing tokens stay exact: no token above Number.MAX_SAFE_INTEGER (2^53 − 1) is ever issued
 * (acquire, takeover, promote --force --bump, release) or trusted when read back — past it, two
 * tokens compare equal and a stale holder's fence passes.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import {
  TokenExhaustedError,
  createLease,
  promoteLease,
  releaseLeaseHolder,
  sqliteStore,
  storeFromUrl,
  type SqlLeaseStore,
} from '../../src/lease/index.js';
import { toRecord } from '../../src/lease/record.js';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { runLeaseCliInProcess, uniqueTable } from './helpers.js';

const MAX = Number.MAX_SAFE_INTEGER;
const pgUp = await databaseAvailable('postgres');
const mysqlUp = await databaseAvailable('mysql');

describe('toRecord: a token or version a number cannot hold exactly is refused, never rounded', () => {
  const row = (token: unknown, version: unknown = 1) => ({ holder: 'h#1', token, version, renewed_at: 1000, wait_interval_ms: 1000, now_ms: 1500 });
  it('reads safe integers in every driver form', () => {
    expect(toRecord('l', row(MAX)).token).toBe(MAX);
    expect(toRecord('l', row(String(MAX))).token).toBe(MAX);
    expect(toRecord('l', row(BigInt(MAX))).token).toBe(MAX);
  });
  it.each([['9007199254740992'], ['9007199254740993'], [BigInt(MAX) + 2n], [2 ** 53], [1.5], ['1e3'], [null]])('refuses %s', (token) => {
    expect(() => toRecord('l', row(token))).toThrow(TokenExhaustedError);
    expect(() => toRecord('l', row(1, token))).toThrow(TokenExhaustedError);
  });
});

function scenarios(label: string, makeStore: () => SqlLeaseStore, drop: (store: SqlLeaseStore) => Promise<void>) {
  describe(`${label}: the token never passes 2^53 − 1`, () => {
    const store = makeStore();
    afterAll(async () => {
      await drop(store).catch(() => undefined);
      await store.close();
    });
    const opts = { store, updateInterval: 200, waitInterval: 1000, mode: 'cold' as const };

    it('promote --bump to exactly MAX_SAFE_INTEGER is fine; beyond it is refused, and so is the next acquire', async () => {
      const name = `tok${Date.now()}`;
      const a = createLease({ ...opts, name, machineName: 'a' });
      try {
        const first = await a.acquire();
        await a.release();
        await expect(promoteLease(store, name, { force: true, bump: MAX - first.token + 1 })).rejects.toBeInstanceOf(TokenExhaustedError);
        const promoted = await promoteLease(store, name, { force: true, bump: MAX - first.token });
        expect(promoted).toMatchObject({ outcome: 'forced', token: MAX });
        expect((await store.read(name))?.token).toBe(MAX);
        // The next holder would get MAX + 1: refused at once, typed, not retried.
        const error = await a.acquire().then(() => undefined, (e: unknown) => e);
        expect(error).toBeInstanceOf(TokenExhaustedError);
        expect((error as TokenExhaustedError).token).toBe('9007199254740992');
        expect((await store.read(name))?.token).toBe(MAX);
        await expect(promoteLease(store, name, { force: true })).rejects.toBeInstanceOf(TokenExhaustedError);
      } finally {
        await a.close();
      }
    });

    it('a token past 2^53 already in the table is refused on read and by the fence', async () => {
      const name = `big${Date.now()}`;
      const a = createLease({ ...opts, name, machineName: 'a' });
      try {
        await a.acquire();
        await a.release();
        await store.transaction((tx) => tx.execute(`UPDATE ${store.table} SET token = 9007199254740993 WHERE name = ?`, [name]));
        await expect(store.read(name)).rejects.toBeInstanceOf(TokenExhaustedError);
        await expect(store.transaction((tx) => store.assertHeld(tx, name, MAX))).rejects.toBeInstanceOf(TokenExhaustedError);
        await expect(a.acquire()).rejects.toBeInstanceOf(TokenExhaustedError);
        await expect(releaseLeaseHolder(store, name)).rejects.toBeInstanceOf(TokenExhaustedError);
      } finally {
        await a.close();
      }
    });
  });
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hc-token-range-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
scenarios('SQLite', () => sqliteStore(path.join(dir, 'app.db'), { table: uniqueTable('tok') }), async () => undefined);
if (pgUp) scenarios('PostgreSQL', () => storeFromUrl(PG_URL, { table: uniqueTable('tok') }), async (s) => {
  await s.transaction((tx) => tx.execute(`DROP TABLE ${s.table}`));
});
if (mysqlUp) scenarios('MariaDB', () => storeFromUrl(MYSQL_URL, { table: uniqueTable('tok') }), async (s) => {
  await s.transaction((tx) => tx.execute(`DROP TABLE ${s.table}`));
});

describe('promoteLease / the CLI: bump must be a positive safe integer, in digits', () => {
  it.each([[0], [-1], [1.5], [MAX + 1], [Number.NaN]])('promoteLease refuses bump %s with a ConfigurationError', async (bump) => {
    const store = sqliteStore(':memory:');
    try {
      await expect(promoteLease(store, 'x', { force: true, bump })).rejects.toBeInstanceOf(ConfigurationError);
    } finally {
      await store.close();
    }
  });
  it.each([['1e3'], ['0x10'], ['9007199254740992'], ['99999999999999999'], [' 5'], ['5.0']])('hotcold lease promote --bump %s exits 2', async (bump) => {
    const db = `sqlite:${path.join(dir, 'cli.db')}`;
    const run = await runLeaseCliInProcess(['lease', 'promote', '--db', db, '--force', '--bump', bump]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/bump.*must be a positive integer/);
  });
});
