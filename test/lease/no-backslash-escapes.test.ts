/**
 * MariaDB with `NO_BACKSLASH_ESCAPES` in `sql_mode` (a DBA's server setting, or the application's
 * on the sessions of a pool it hands the store). mysql2 inlines parameters on the client and
 * escapes quotes, backslashes and control characters with a backslash, which that mode reads
 * literally. Found by attacking the lease: a machineName with a quote made every takeover a syntax
 * error, retried for ever; one with a backslash was stored doubled, so every fence found "another
 * holder"; and a node's writes through `store.transaction()` stored `{"a":"x"}` as
 * `{\"a\":\"x\"}`. The store now inlines text as hex literals, which every sql_mode reads alike.
 */
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { createLease, mysqlStore } from '../../src/lease/index.js';
import { MYSQL_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const available = await databaseAvailable('mysql');
const TRICKY = `it's "quoted" \\ back\\slash\n\ttab \u0000nul é 😀 ?`;

/** A one-connection pool whose session reads backslashes literally. */
async function literalBackslashPool(): Promise<mysql.Pool> {
  const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
  await pool.query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_BACKSLASH_ESCAPES')");
  return pool;
}

describe.runIf(available)('a pool whose sessions run with NO_BACKSLASH_ESCAPES (MariaDB)', () => {
  it('acquires, renews and fences with quotes and backslashes in the name and machineName', async () => {
    const table = uniqueTable();
    const pool = await literalBackslashPool();
    const store = mysqlStore(pool, { table });
    const lease = createLease({ store, name: `lease'#1"\\x?`, machineName: `bob's "laptop" \\ é`, updateInterval: 100, waitInterval: 1000 });
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

  it('stores text written through store.transaction() exactly as given', async () => {
    const table = uniqueTable('nbe_data');
    const pool = await literalBackslashPool();
    const store = mysqlStore(pool, { table: uniqueTable() });
    const json = JSON.stringify({ a: 'x', note: TRICKY });
    try {
      await store.run(`CREATE TABLE ${table} (id VARCHAR(64) PRIMARY KEY, body TEXT, tags TEXT)`);
      await store.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${table} (id, body, tags) VALUES (?, ?, ?)`, ['k1', json, TRICKY]);
      });
      const rows = await store.transaction((tx) => tx.query(`SELECT body, tags FROM ${table} WHERE id = ? AND tags = ?`, ['k1', TRICKY]));
      expect(rows).toHaveLength(1);
      expect(rows[0]?.body).toBe(json);
      expect(rows[0]?.tags).toBe(TRICKY);
      // A list parameter (IN (?)) is inlined alike.
      const listed = await store.transaction((tx) => tx.query(`SELECT id FROM ${table} WHERE tags IN (?)`, [[TRICKY, "o'ther"]]));
      expect(listed).toHaveLength(1);
    } finally {
      await store.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await store.close();
      await pool.end();
    }
  }, 30_000);
});
