import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { mysqlStore } from '../../src/lease/index.js';
import { databaseAvailable, MYSQL_URL } from '../support/services.js';
import { leaseSuite } from './lease-suite.js';

const available = await databaseAvailable('mysql');

describe.runIf(available)('mysql', () => {
  leaseSuite('mysql', {
    url: MYSQL_URL,
    async drop(table) {
      const conn = await mysql.createConnection(MYSQL_URL);
      await conn.query(`DROP TABLE IF EXISTS ${table}`);
      await conn.end();
    },
    async lockRow(table, name) {
      const conn = await mysql.createConnection(MYSQL_URL);
      await conn.beginTransaction();
      await conn.query(`SELECT * FROM ${table} WHERE name = ? FOR UPDATE`, [name]);
      return async () => {
        await conn.commit();
        await conn.end();
      };
    },
  });
});

describe.runIf(available)('mysqlStore with the user\'s pool', () => {
  it('uses it and leaves it open on close(); mariadb:// URLs work', async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 2 });
    const store = mysqlStore(pool);
    expect(await store.transaction(async (tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
    await store.close();
    const [rows] = await pool.query('SELECT 2 AS two');
    expect(rows).toEqual([{ two: 2 }]);
    await pool.end();
    const viaMariadbScheme = mysqlStore(MYSQL_URL.replace(/^mysql:/, 'mariadb:'));
    expect((await viaMariadbScheme.run('SELECT 3 AS three')).rows).toEqual([{ three: 3 }]);
    await viaMariadbScheme.close();
  });
});

describe.runIf(available)('mysqlStore transaction whose connection the server kills', () => {
  it('rejects the transaction instead of crashing the process, and the pool recovers', async () => {
    const store = mysqlStore(MYSQL_URL);
    try {
      const error = await store
        .transaction(async (tx) => {
          const [row] = await tx.query<{ id: number }>('SELECT CONNECTION_ID() AS id');
          const killer = await mysql.createConnection(MYSQL_URL);
          await killer.query(`KILL ${Number(row?.id)}`);
          await killer.end();
          await new Promise((resolve) => setTimeout(resolve, 200)); // the 'error' event arrives now
          await tx.query('SELECT 1');
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(await store.transaction((tx) => tx.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
    } finally {
      await store.close();
    }
  });
});
