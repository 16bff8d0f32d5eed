/**
 * Text parameters of the MariaDB/MySQL store read as mysql2's own string literals did, in every
 * place a user's statement may put them (found by attacking the NO_BACKSLASH_ESCAPES change, which
 * inlined every string as `_utf8mb4 X'…'`): a `??` identifier became `[object Object]`; a text
 * compared with text took utf8mb4's default collation instead of the connection's (`'ß' = 'ss'`
 * false under utf8mb4_unicode_ci, `'a' = 'A'` true on a utf8mb4_bin pool); and the hex doubled
 * every text's bytes on the wire, so a value past half of max_allowed_packet failed.
 */
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { mysqlStore } from '../../src/lease/index.js';
import { ConfigurationError } from '../../src/errors.js';
import { MYSQL_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const available = await databaseAvailable('mysql');

describe.runIf(available)('text parameters of mysqlStore', () => {
  it('fill ?? identifiers (a column, a table, a list of columns)', async () => {
    const table = uniqueTable('txt_id');
    const store = mysqlStore(MYSQL_URL, { table: uniqueTable() });
    try {
      await store.run(`CREATE TABLE ${table} (id VARCHAR(16) PRIMARY KEY, body TEXT)`);
      const rows = await store.transaction(async (tx) => {
        await tx.execute('INSERT INTO ?? SET ?', [table, { id: 'k1', body: "it's" }]);
        return tx.query('SELECT ?? FROM ?? WHERE ?? = ?', [['id', 'body'], table, 'id', 'k1']);
      });
      expect(rows).toEqual([{ id: 'k1', body: "it's" }]);
    } finally {
      await store.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await store.close();
    }
  }, 30_000);

  it("compare with the connection's collation, as a plain string literal does", async () => {
    const store = mysqlStore(MYSQL_URL, { table: uniqueTable() });
    const bin = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1, charset: 'UTF8MB4_BIN' });
    const binStore = mysqlStore(bin, { table: uniqueTable() });
    try {
      const [connection] = await store.transaction((tx) => tx.query('SELECT @@collation_connection AS c, COLLATION(?) AS p', ['x']));
      expect(connection?.p).toBe(connection?.c);
      const [binary] = await binStore.transaction((tx) => tx.query('SELECT ? = ? AS same', ['a', 'A']));
      expect(Number(binary?.same)).toBe(0);
    } finally {
      await binStore.close();
      await store.close();
      await bin.end();
    }
  }, 30_000);

  it('read back alike under NO_BACKSLASH_ESCAPES and without it, quotes and control characters included', async () => {
    const text = `it's "quoted"\n\ttab \u0000nul é 😀 ? ''`;
    for (const mode of ['', ',NO_BACKSLASH_ESCAPES']) {
      const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
      await pool.query(`SET SESSION sql_mode = CONCAT(@@sql_mode, '${mode}')`);
      const store = mysqlStore(pool, { table: uniqueTable() });
      try {
        const [row] = await store.transaction((tx) => tx.query('SELECT ? AS v, ? AS e', [text, '']));
        expect(row).toEqual({ v: text, e: '' });
      } finally {
        await store.close();
        await pool.end();
      }
    }
  }, 30_000);

  it("a pool of yours whose connections' character set is not utf8mb4 is refused: a key 'pay-😀' was stored as 'pay-=\\0'", async () => {
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1, charset: 'LATIN1_SWEDISH_CI' });
    const store = mysqlStore(pool, { table: uniqueTable() });
    try {
      const error = await store.transaction((tx) => tx.query('SELECT ? AS v', ['pay-😀'])).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ConfigurationError);
      expect(String((error as Error).message)).toMatch(/pool.*latin1, not utf8mb4/);
    } finally {
      await store.close();
      await pool.end();
    }
    // utf8mb4 (mysql2's default): the key reads back as written.
    const good = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    const ok = mysqlStore(good, { table: uniqueTable() });
    try {
      expect(await ok.transaction((tx) => tx.query('SELECT ? AS v', ['pay-😀']))).toEqual([{ v: 'pay-😀' }]);
    } finally {
      await ok.close();
      await good.end();
    }
  }, 30_000);

  it("reach a pool's own queryFormat as the strings given (it formats parameters itself)", async () => {
    const pool = mysql.createPool({
      uri: MYSQL_URL,
      connectionLimit: 1,
      queryFormat(sql: string, values: unknown): string {
        const list = Array.isArray(values) ? values : [];
        let index = 0;
        return sql.replace(/\?/g, () => {
          const value: unknown = list[index++];
          if (typeof value !== 'string') throw new TypeError(`queryFormat got a ${typeof value}`);
          return mysql.escape(value.toUpperCase());
        });
      },
    });
    const store = mysqlStore(pool, { table: uniqueTable() });
    try {
      const rows = await store.transaction((tx) => tx.query('SELECT ? AS v', ['abc']));
      expect(rows).toEqual([{ v: 'ABC' }]);
    } finally {
      await store.close();
      await pool.end();
    }
  }, 30_000);

  it('pass a text up to max_allowed_packet, not half of it', async () => {
    const store = mysqlStore(MYSQL_URL, { table: uniqueTable() });
    try {
      const [limits] = await store.transaction((tx) => tx.query('SELECT @@max_allowed_packet AS m'));
      const length = Math.floor(Number(limits?.m) * 0.6);
      const [row] = await store.transaction((tx) => tx.query('SELECT LENGTH(?) AS n', ['x'.repeat(length)]));
      expect(Number(row?.n)).toBe(length);
    } finally {
      await store.close();
    }
  }, 60_000);
});
