import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeFromUrl } from 'hotcold/lease';
import { conformanceApp, formatConformanceReport, runConformance } from 'hotcold/testing';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { fixture, startNode, until, uniq, type Fixture, type NodeSetup } from '../node/support.js';

/**
 * The reference pair passes the conformance kit on the server databases too, where a duplicate
 * key waits on a unique-index lock held by another transaction (PostgreSQL, InnoDB) instead of
 * SQLite's single writer, and where an expired call's connection is discarded and its session
 * killed. Tables are private to the run and dropped afterwards.
 */
function suite(db: string): void {
  let f: Fixture;
  let active: NodeSetup;
  let standby: NodeSetup;
  const id = uniq();
  const tables = { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}`, app: `c_${id}` };

  beforeAll(async () => {
    f = fixture();
    const app = conformanceApp({ table: tables.app });
    const options = {
      db,
      leaseTable: tables.lease,
      dedup: { table: tables.dedup },
      feeds: { table: tables.feed },
      handlers: app.handlers,
      updateInterval: 500,
      waitInterval: 5000,
    };
    active = await startNode(f, 'conf-db-a', options);
    await until(() => active.node.status === 'active', 30_000, 'node a active');
    await app.setup(active.store);
    standby = await startNode(f, 'conf-db-b', options);
    await until(() => standby.node.status === 'standby', 30_000, 'node b standby');
  });

  afterAll(async () => {
    await f?.cleanup();
    const store = storeFromUrl(db);
    try {
      for (const table of [tables.app, `${tables.feed}_seq`, tables.feed, tables.dedup, tables.lease]) {
        await store.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${table}`));
      }
    } finally {
      await store.close();
    }
  });

  it('passes every check, standby checks included', async () => {
    const report = await runConformance(active.url, { standbyUrl: standby.url, midCallSleepMs: 1500, requestTimeoutMs: 15_000 });
    expect(report.results.filter((r) => r.outcome === 'fail').map((r) => r.id), formatConformanceReport(report)).toEqual([]);
    expect(report.skipped).toBe(0);
  });
}

describe.runIf(await databaseAvailable('postgres'))('conformance kit, reference pair on PostgreSQL', () => suite(PG_URL));
describe.runIf(await databaseAvailable('mysql'))('conformance kit, reference pair on MariaDB', () => suite(MYSQL_URL));
