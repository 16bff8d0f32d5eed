import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresStore } from '../../src/lease/index.js';
import { databaseAvailable, PG_URL } from '../support/services.js';
import { leaseSuite } from './lease-suite.js';

const available = await databaseAvailable('postgres');

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.runIf(available)('postgres', () => {
  leaseSuite('postgres', {
    url: PG_URL,
    drop: (table) => withClient(async (c) => void (await c.query(`DROP TABLE IF EXISTS ${table}`))),
    async lockRow(table, name) {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query('BEGIN');
      await client.query(`SELECT * FROM ${table} WHERE name = $1 FOR UPDATE`, [name]);
      return async () => {
        await client.query('COMMIT');
        await client.end();
      };
    },
  });
});

describe.runIf(available)('postgresStore with the user\'s pool', () => {
  it('uses it and leaves it open on close()', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const store = postgresStore(pool, { table: 'lease_user_pool_never_created' });
    expect(await store.transaction(async (tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
    await store.close();
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    await pool.end();
  });
});
