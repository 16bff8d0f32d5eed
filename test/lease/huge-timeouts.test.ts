/**
 * Every accepted option value must give a lease (and a node) that works: a long waitInterval or
 * statementTimeoutMs yields timeouts beyond what PostgreSQL (INT_MAX ms), MariaDB (one year) and
 * Node's timers inside the drivers (2^31−1 ms) accept. They are capped, not sent as they are.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createLease, mysqlStore, postgresStore, type SqlLeaseStore } from '../../src/lease/index.js';
import { transactionBounds } from '../../src/node/sql-dialect.js';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const stores: Array<[string, boolean, () => SqlLeaseStore, string]> = [];
const table = uniqueTable('huge_t');
stores.push(['postgres', await databaseAvailable('postgres'), () => postgresStore(PG_URL, { table }), 'postgres']);
stores.push(['mariadb', await databaseAvailable('mysql'), () => mysqlStore(MYSQL_URL, { table }), 'mysql']);

const warnings: string[] = [];
const onWarning = (w: Error): void => void warnings.push(w.name);
process.on('warning', onWarning);
afterAll(() => void process.off('warning', onWarning));

for (const [label, available, make, dialect] of stores) {
  describe.runIf(available)(label, () => {
    it('acquires and renews with waitInterval 5e9 and statementTimeoutMs 3e9 (no timer overflow)', async () => {
      const store = make();
      const lease = createLease({ store, machineName: 'huge', updateInterval: 200, waitInterval: 5_000_000_000, statementTimeoutMs: 3_000_000_000 });
      try {
        const outcome = await Promise.race([
          lease.acquire().then((h) => `acquired ${h.isValid()}`, (e: Error) => `rejected ${e.name}: ${e.message}`),
          new Promise<string>((r) => setTimeout(() => r('still pending after 15 s'), 15_000)),
        ]);
        expect(outcome).toBe('acquired true');
        // a few renewals go through too
        await new Promise((r) => setTimeout(r, 700));
        expect(lease.current?.isValid()).toBe(true);
        expect(warnings).not.toContain('TimeoutOverflowWarning');
      } finally {
        await lease.close();
        await store.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${table}`)).catch(() => undefined);
        await store.close();
      }
    }, 30_000);

    it("accepts the node's transaction bounds (statement, lock and idle) for a 5e9 ms waitInterval (wait/2)", async () => {
      const store = make();
      try {
        const statements = transactionBounds(dialect as 'postgres' | 'mysql', { statementMs: 2_500_000_000, idleMs: 2_500_000_000 });
        expect(statements.length).toBeGreaterThan(0);
        const value = await store.transaction(async (tx) => {
          for (const statement of statements) await tx.execute(statement.sql);
          return (await tx.query('SELECT 1 AS one'))[0]?.one;
        });
        expect(Number(value)).toBe(1);
      } finally {
        await store.close();
      }
    }, 30_000);
  });
}
