/**
 * MariaDB with `NO_BACKSLASH_ESCAPES` in `sql_mode` (set by a DBA for the server, or by the
 * application on the sessions of a pool it gives the store). mysql2 inlines parameters on the
 * client and escapes a quote or a backslash with a backslash, which that mode reads literally.
 *
 * Found by attacking the lease: with machineName "bob's-laptop" every takeover was a syntax error,
 * retried for ever behind warnings; with a backslash in it the row stored the holder id with the
 * backslash doubled, so every fence found "another holder" — an active holder that could never
 * write. The lease's name and machineName, the only text the engine sends, now exclude quotes and
 * backslashes (ConfigurationError at construction), so no statement of the engine needs escaping.
 */
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createLease, mysqlStore, sqliteStore } from '../../src/lease/index.js';
import { MYSQL_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const available = await databaseAvailable('mysql');

describe('quotes and backslashes in the lease name and machineName', () => {
  it.each([
    ['machineName', "bob's-laptop"],
    ['machineName', 'back\\slash'],
    ['machineName', 'say-"hi"'],
    ['name', "lease'1"],
    ['name', 'lease\\1'],
    ['name', 'lease"1'],
  ])('%s %s is refused with ConfigurationError naming the field', (field, value) => {
    let thrown: unknown;
    try {
      createLease({ store: sqliteStore(':memory:'), machineName: 'm', [field]: value });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(ConfigurationError);
    expect((thrown as ConfigurationError).field).toBe(field);
  });
});

describe.runIf(available)('a pool whose sessions run with NO_BACKSLASH_ESCAPES (MariaDB)', () => {
  it('acquires, renews and fences with every other printable character in the name and machineName', async () => {
    const table = uniqueTable();
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    await pool.query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')");
    const store = mysqlStore(pool, { table });
    const lease = createLease({ store, name: 'lease-#1:a/b@c$%&()*+,.;<=>?[]^_`{|}~', machineName: 'node a.example_com:1/x@y (é)', updateInterval: 100, waitInterval: 1000 });
    try {
      const held = await lease.acquire();
      await store.transaction((tx) => lease.assertHeld(tx, held.token));
      const row = await store.read(lease.name);
      expect(row?.holder).toBe(lease.holderId);
    } finally {
      await lease.close();
      await store.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await store.close();
      await pool.end();
    }
  }, 30_000);
});
