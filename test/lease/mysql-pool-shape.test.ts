/**
 * Pools of yours that mysqlStore cannot read right are refused by name, and pools it can read are
 * not (found attacking c73425c, the utf8mb4 check):
 * - a session whose results come back in another character set (`character_set_results` latin1,
 *   e.g. set by a pool's 'connection' handler) passed the check on client/connection, and every
 *   key and payload read back was mangled silently ('pay-😀' read as 'pay-?');
 * - a pool made with `rowsAsArray` or `nestTables` (options of the pool, for the user's own
 *   queries) was refused as "character set unknown", though its charset was utf8mb4: the store
 *   read its rows by column name. The store now asks for plain rows in every statement it runs;
 * - a callback-style mysql2 Pool (`mysql2`, not `mysql2/promise`) was accepted and crashed at the
 *   first statement with a TypeError; now a ConfigurationError naming pool at construction.
 * Real MariaDB on loopback.
 */
import mysql from 'mysql2/promise';
import mysqlCallback from 'mysql2';
import { describe, expect, it } from 'vitest';
import { mysqlStore } from '../../src/lease/index.js';
import { ConfigurationError } from '../../src/errors.js';
import { MYSQL_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const available = await databaseAvailable('mysql');

describe.runIf(available)('pools of yours given to mysqlStore', () => {
  it('a session reading results in latin1 is refused (ConfigurationError naming pool), not read mangled', async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    pool.on('connection', (c) => {
      void c.query('SET character_set_results = latin1');
    });
    const store = mysqlStore(pool, { table: uniqueTable() });
    try {
      const outcome = await store.transaction((tx) => tx.query('SELECT ? AS v', ['pay-😀'])).catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(ConfigurationError);
      expect((outcome as ConfigurationError).message).toMatch(/pool/);
      expect((outcome as ConfigurationError).message).toMatch(/latin1/);
    } finally {
      await store.close();
      await pool.end();
    }
  }, 30_000);

  it('a utf8mb4 pool made with rowsAsArray or nestTables is not refused, and its rows read by name', async () => {
    for (const extra of [{ rowsAsArray: true }, { nestTables: true }, { nestTables: '_' }]) {
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1, ...extra });
      const store = mysqlStore(pool, { table: uniqueTable() });
      try {
        const rows = await store.transaction((tx) => tx.query('SELECT ? AS v', ['pay-😀']));
        expect(rows, JSON.stringify(extra)).toEqual([{ v: 'pay-😀' }]);
      } finally {
        await store.close();
        await pool.end();
      }
    }
  }, 30_000);

  it('a callback-style mysql2 Pool is refused at construction, naming pool', async () => {
    const pool = mysqlCallback.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    try {
      let thrown: unknown;
      try {
        mysqlStore(pool as unknown as Parameters<typeof mysqlStore>[0]);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigurationError);
      expect((thrown as ConfigurationError).message).toMatch(/pool/);
      expect((thrown as ConfigurationError).message).toMatch(/promise/);
    } finally {
      await new Promise((resolve) => pool.end(resolve));
    }
    // Its promise() wrapper is a mysql2/promise Pool: accepted.
    const wrapped = mysqlCallback.createPool({ uri: MYSQL_URL, connectionLimit: 1 }).promise();
    const store = mysqlStore(wrapped, { table: uniqueTable() });
    try {
      expect(await store.transaction((tx) => tx.query('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
    } finally {
      await store.close();
      await wrapped.end();
    }
  }, 30_000);
});
