import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { databaseAvailable, PG_URL } from '../../support/services.js';
import { expectSafe, runNegativeControl, runAndPrint, STRESS_SECONDS } from './support.js';

const hasPg = await databaseAvailable('postgres');

describe.runIf(hasPg)('lease stress on PostgreSQL (5 real contender processes, random faults incl. pg_terminate_backend, locks, restarting standbys, frozen start-up)', () => {
  it('never lets two holders serve at once, and the fence and counter agree', async () => {
    const report = await runAndPrint({ store: 'postgres', seconds: STRESS_SECONDS, includeStartup: true });
    expectSafe(report, 2);
    // The run's tables are gone.
    const client = new pg.Client(PG_URL);
    await client.connect();
    try {
      const { lease, writes, counter } = report.tables;
      const left = await client.query('SELECT to_regclass($1) AS a, to_regclass($2) AS b, to_regclass($3) AS c', [lease, writes, counter]);
      expect(left.rows[0]).toEqual({ a: null, b: null, c: null });
    } finally {
      await client.end();
    }
  }, 240_000);

  it('negative control: with self-fencing off the checker catches the overlap', async () => {
    await runNegativeControl({ store: 'postgres', seconds: 0, contenders: 3 });
  }, 240_000);
});
