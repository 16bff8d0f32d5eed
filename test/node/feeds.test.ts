import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { fixture, rpc, startNode, until, uniq, type Fixture } from './support.js';

/**
 * The no-gap guarantee under concurrency: writers append from overlapping transactions (each
 * holding its transaction open a little after appending) while a reader polls. Every answer the
 * reader gets must continue exactly where the previous one ended.
 */
function feedSuite(db: string | undefined): void {
  let f: Fixture;
  afterEach(async () => {
    await f?.cleanup();
  });

  it('concurrent appenders: a polling reader sees seq 1..N with no gap, no duplicate, in order', async () => {
    f = fixture();
    const id = uniq();
    const handlers = {
      emit: async (p: { n: number }, ctx: HandlerContext) => {
        const seq = await ctx.appendFeed('race', { n: p.n });
        // Keep the transaction open after taking the sequence: a later seq must not become
        // visible before this one commits.
        await new Promise((r) => setTimeout(r, Math.random() * 20));
        return seq;
      },
    };
    // Relaxed lease timings: the test holds transactions open on purpose, and on PostgreSQL a
    // renewal waits for transactions holding the lease row's share lock (assertHeld).
    const { url, node } = await startNode(f, 'alpha', { db, updateInterval: 500, waitInterval: 2000, maxConcurrentTransactions: 6, leaseTable: `l_${id}`, dedup: { table: `d_${id}` }, feeds: { table: `f_${id}`, pollIntervalMs: 20 }, handlers });
    await until(() => node.status === 'active', 15_000, 'active');
    if (process.env.DEBUG_FEEDS) node.events$.subscribe((e) => console.log(JSON.stringify(e)));
    if (process.env.DEBUG_FEEDS) f.leases[0]!.events$.subscribe((e) => e.type !== 'renewed' && console.log(JSON.stringify(e)));
    const total = 60;
    let writing = true;
    const delivered: number[] = [];
    const reader = (async () => {
      let after = 0;
      while (writing || after < total) {
        const page = await rpc(url, 'hotcold.feed', { feed: 'race', after, max: 10, waitMs: 200 });
        if (page.status === 503 || page.body?.result === undefined) {
          await new Promise((r) => setTimeout(r, 50));
          continue;
        }
        const items = page.body.result.items as { seq: number }[];
        for (const item of items) {
          expect(item.seq).toBe(after + 1);
          after = item.seq;
          delivered.push(item.seq);
        }
      }
    })();
    const writers = Array.from({ length: 6 }, async (_, w) => {
      for (let i = 0; i < total / 6; i += 1) {
        // On PostgreSQL overlapping transactions holding the lease row's share lock can starve
        // the renewal, and the node loses the lease: NOT_ACTIVE = not executed, so send again.
        let answer = await rpc(url, 'emit', { n: w * 100 + i });
        for (let tries = 0; answer.status === 503 && tries < 200; tries += 1) {
          await new Promise((r) => setTimeout(r, 50));
          answer = await rpc(url, 'emit', { n: w * 100 + i });
        }
        expect(answer.status).toBe(200);
      }
    });
    await Promise.all(writers);
    writing = false;
    await reader;
    expect(delivered).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
}

describe('feeds on SQLite', () => feedSuite(undefined));
describe.runIf(await databaseAvailable('postgres'))('feeds on PostgreSQL', () => feedSuite(PG_URL));
describe.runIf(await databaseAvailable('mysql'))('feeds on MariaDB', () => feedSuite(MYSQL_URL));
