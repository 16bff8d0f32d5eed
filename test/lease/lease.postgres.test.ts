import pg from 'pg';
import { describe } from 'vitest';
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
