import mysql from 'mysql2/promise';
import { describe } from 'vitest';
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
