/**
 * `machineName` goes into the holder id, which every lease statement and every fence compares.
 * Found by attacking the lease: a name with a NUL character was accepted, and on PostgreSQL (which
 * stores no NUL in text) every takeover failed and was retried for ever behind warnings; a name
 * with a lone UTF-16 surrogate was accepted and acquired on every store, but the database stored
 * it as U+FFFD, so every fence (`assertHeld`) found "another holder" in the row: an active holder
 * that could never write. Both are refused at construction now; any well-formed name works.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigurationError, createLease, postgresStore, sqliteStore, type LeaseStore } from '../../src/lease/index.js';
import { PG_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const pgUp = await databaseAvailable('postgres');
const dir = mkdtempSync(join(tmpdir(), 'hotcold-machine-name-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('machineName', () => {
  it.each([
    ['a NUL character', 'node\u0000a'],
    ['a control character', 'node\u0007a'],
    ['a lone high surrogate', 'node\uD800a'],
    ['a lone low surrogate', 'node\uDC00a'],
  ])('with %s is refused with ConfigurationError naming the field', (_, machineName) => {
    const store = sqliteStore(':memory:');
    let thrown: unknown;
    try {
      createLease({ store, machineName });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as ConfigurationError).field).toBe('machineName');
  });

  const stores: Array<[string, () => LeaseStore]> = [['sqlite', () => sqliteStore(join(dir, 'app.db'), { table: uniqueTable() })]];
  if (pgUp) stores.push(['postgres', () => postgresStore(PG_URL, { table: uniqueTable() })]);

  it.each(stores)('a well-formed non-ASCII name acquires and its fence passes (%s)', async (_, make) => {
    const store = make();
    const lease = createLease({ store, machineName: 'nœud-Ä-東京-🚀', updateInterval: 200, waitInterval: 1000 });
    try {
      const held = await lease.acquire();
      await store.transaction((tx) => lease.assertHeld(tx, held.token));
    } finally {
      await lease.close();
      await store.run?.(`DROP TABLE IF EXISTS ${store.table}`).catch(() => undefined);
      await store.close();
    }
  }, 30_000);
});
