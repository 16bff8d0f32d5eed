/**
 * Child for pg-terminate.test.ts: runs one `postgresStore.transaction()` that pauses between two
 * statements, while the parent terminates its backend (`pg_terminate_backend`). The transaction
 * must reject and the process must live on; prints `in-tx`, then `rejected` or `committed`.
 *
 * Usage: node --import tsx test/lease/stress/pg-terminate-child.ts <pg url> <application_name> <table>
 */
import pg from 'pg';
import { postgresStore } from 'hotcold/lease';

const [url, appName, table] = process.argv.slice(2) as [string, string, string];
const pool = new pg.Pool({ connectionString: url, max: 2, application_name: appName });
pool.on('error', () => undefined);
const store = postgresStore(pool, { table });
try {
  await store.transaction(async (tx) => {
    await tx.query('SELECT 1');
    process.stdout.write('in-tx\n');
    // Idle between statements, as an application is while it computes: the parent kills us here.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await tx.query('SELECT 1');
  });
  process.stdout.write('committed\n');
} catch {
  process.stdout.write('rejected\n');
}
await store.close();
await pool.end().catch(() => undefined);
