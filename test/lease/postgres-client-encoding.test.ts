/**
 * postgresStore refuses a pool of yours whose sessions' client_encoding is not UTF8 (the same
 * fault as c73425c's on MariaDB, found attacking it): node-pg always sends and reads UTF-8, so a
 * session set to LATIN1 (SET client_encoding in the pool's 'connect' handler) had the server read
 * each UTF-8 byte as a character — 'pay-😀' was stored as an 8-character key, which this pool read
 * back whole, but a node whose pool is right (the one taking over) looks up the real 'pay-😀',
 * finds nothing and runs the call again; payloads read back there mangled. Now a
 * ConfigurationError naming pool at the transaction, nothing committed. Real PostgreSQL.
 */
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresStore } from '../../src/lease/index.js';
import { ConfigurationError } from '../../src/errors.js';
import { PG_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const available = await databaseAvailable('postgres');

describe.runIf(available)('postgresStore and the client encoding of a pool of yours', () => {
  it('a LATIN1 session is refused (ConfigurationError naming pool), nothing written', async () => {
    const table = uniqueTable('pg_enc');
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    pool.on('connect', (client) => {
      void client.query('SET client_encoding = LATIN1');
    });
    const right = postgresStore(PG_URL, { table: uniqueTable() });
    const store = postgresStore(pool, { table: uniqueTable() });
    try {
      await right.run(`CREATE TABLE ${table} (k text PRIMARY KEY)`);
      const outcome = await store.transaction((tx) => tx.execute(`INSERT INTO ${table} (k) VALUES (?)`, ['pay-😀'])).catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(ConfigurationError);
      expect((outcome as ConfigurationError).message).toMatch(/pool/);
      expect((outcome as ConfigurationError).message).toMatch(/LATIN1/);
      expect(await right.transaction((tx) => tx.query(`SELECT k FROM ${table}`))).toEqual([]);
    } finally {
      await right.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await store.close();
      await right.close();
      await pool.end();
    }
  }, 30_000);

  it('a UTF8 pool of yours is not refused', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 1 });
    const store = postgresStore(pool, { table: uniqueTable() });
    try {
      expect(await store.transaction((tx) => tx.query('SELECT ?::text AS v', ['pay-😀']))).toEqual([{ v: 'pay-😀' }]);
    } finally {
      await store.close();
      await pool.end();
    }
  }, 30_000);
});
