/**
 * A transaction the DATABASE ended under a handler that swallowed the error is never reported as
 * executed, and nothing the handler does afterwards runs outside it.
 *
 * Each database ends a transaction on its own after some errors, and each then behaves
 * differently: PostgreSQL keeps it open but aborted and turns the COMMIT into a ROLLBACK (the
 * command succeeds, tagged ROLLBACK); InnoDB rolls a deadlock victim back and runs the session's
 * next statements in autocommit; SQLite rolls back on `ON CONFLICT ROLLBACK` (and on FULL, IOERR,
 * NOMEM) and autocommits what follows. A handler that catches such an error — "the ledger row is
 * there already, fine" — and returns was answered `200` with its result although nothing was
 * committed (PostgreSQL), or with its later writes committed one by one outside the fence and no
 * idempotency record (MariaDB: a retry with the same key ran again). The truthful answer is
 * `503 NOT_EXECUTED`: nothing of the call was committed.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { TransactionRolledBackError } from 'hotcold/lease';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { rawRpc } from './raw-http.js';
import { fixture, startNode, until, uniq, type Fixture } from './support.js';

const withPostgres = await databaseAvailable('postgres');
const withMariadb = await databaseAvailable('mysql');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let f: Fixture;
afterEach(async () => {
  await f?.cleanup();
});

const names = () => {
  const id = uniq();
  return { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}`, ledger: `g_${id}`, audit: `a_${id}` };
};

async function rows(store: Fixture['stores'][number], sql: string): Promise<unknown[]> {
  return store.transaction((tx) => tx.query(sql));
}

describe('a transaction the database ended under the handler', () => {
  it('SQLite, ON CONFLICT ROLLBACK swallowed by the handler: 503 NOT_EXECUTED, the later write is refused (not autocommitted), no record', async () => {
    f = fixture();
    const t = names();
    const swallowed: string[] = [];
    const refused: string[] = [];
    const a = await startNode(f, 'alpha', {
      leaseTable: t.lease,
      dedup: { table: t.dedup },
      feeds: { table: t.feed },
      handlers: {
        pay: async (params: { ref: string }, ctx: HandlerContext) => {
          await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
          try {
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
          } catch (error) {
            swallowed.push(String(error));
          }
          try {
            await ctx.tx.execute(`INSERT INTO ${t.audit} (what) VALUES (?)`, ['after']);
          } catch (error) {
            refused.push(String(error));
          }
          return 'paid';
        },
      },
    });
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    await a.store.transaction(async (tx) => {
      await tx.execute(`CREATE TABLE ${t.ledger} (ref TEXT NOT NULL UNIQUE ON CONFLICT ROLLBACK)`);
      await tx.execute(`CREATE TABLE ${t.audit} (what TEXT NOT NULL)`);
    });

    for (const key of [undefined, 'sqlite-1']) {
      const answer = await rawRpc(a.url, 'pay', { ref: `r-${key ?? 'none'}` }, key === undefined ? {} : { 'idempotency-key': key });
      expect(swallowed.length).toBeGreaterThan(0);
      expect(answer.status).toBe(503);
      expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    }
    expect(refused).toHaveLength(2);
    expect(await rows(a.store, `SELECT what FROM ${t.audit}`)).toEqual([]);
    expect(await rows(a.store, `SELECT ref FROM ${t.ledger}`)).toEqual([]);
    expect(await rows(a.store, `SELECT idem_key FROM ${t.dedup}`)).toEqual([]);
  }, 60_000);

  describe.runIf(withPostgres)('PostgreSQL', () => {
    it('a unique violation swallowed by the handler: 503 NOT_EXECUTED, not 200 for a COMMIT the server turned into ROLLBACK', async () => {
      f = fixture();
      const t = names();
      let swallowed = 0;
      const a = await startNode(f, 'alpha', {
        db: PG_URL,
        leaseTable: t.lease,
        dedup: false,
        feeds: false,
        handlers: {
          pay: async (params: { ref: string }, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
            try {
              await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
            } catch {
              swallowed += 1;
            }
            return 'paid';
          },
        },
      });
      await until(() => a.node.status === 'active', 15_000, 'alpha active');
      await a.store.transaction((tx) => tx.execute(`CREATE TABLE ${t.ledger} (ref VARCHAR(50) PRIMARY KEY)`));
      try {
        const answer = await rawRpc(a.url, 'pay', { ref: 'r-1' });
        expect(swallowed).toBe(1);
        expect(await rows(a.store, `SELECT ref FROM ${t.ledger}`)).toEqual([]);
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
        // The store says so to any caller of transaction(), not only to the node.
        const direct = a.store.transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, ['r-2']);
          await tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, ['r-2']).catch(() => undefined);
          return 'done';
        });
        await expect(direct).rejects.toBeInstanceOf(TransactionRolledBackError);
        await expect(direct).rejects.toMatchObject({ committed: false });
      } finally {
        await a.store.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${t.ledger}`));
      }
    }, 60_000);
  });

  describe.runIf(withMariadb)('MariaDB', () => {
    it('a deadlock swallowed by the handler: 503 NOT_EXECUTED; the later write is refused, not autocommitted; a retry of the key runs once', async () => {
      f = fixture();
      const t = names();
      const heavy = `h_${uniq()}`;
      const steps = { locked: false, swallowed: [] as number[], refused: [] as string[], runs: 0 };
      const a = await startNode(f, 'alpha', {
        db: MYSQL_URL,
        leaseTable: t.lease,
        dedup: { table: t.dedup },
        feeds: false,
        handlers: {
          pay: async (_params: unknown, ctx: HandlerContext) => {
            steps.runs += 1;
            await ctx.tx.execute(`UPDATE ${t.ledger} SET v = v + 1 WHERE k = 1`);
            if (steps.runs > 1) {
              await ctx.tx.execute(`UPDATE ${t.ledger} SET v = v + 1 WHERE k = 2`);
              return 'paid';
            }
            steps.locked = true;
            try {
              await ctx.tx.execute(`UPDATE ${t.ledger} SET v = v + 1 WHERE k = 2`);
            } catch (error) {
              steps.swallowed.push((error as { errno?: number }).errno ?? -1);
            }
            try {
              await ctx.tx.execute(`INSERT INTO ${t.audit} (what) VALUES (?)`, ['after']);
            } catch (error) {
              steps.refused.push(String(error));
            }
            return 'paid';
          },
        },
      });
      await until(() => a.node.status === 'active', 15_000, 'alpha active');
      await a.store.transaction(async (tx) => {
        await tx.execute(`CREATE TABLE ${t.ledger} (k INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
        await tx.execute(`CREATE TABLE ${t.audit} (what VARCHAR(20) NOT NULL) ENGINE=InnoDB`);
        await tx.execute(`CREATE TABLE ${heavy} (k INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`);
      });
      await a.store.transaction(async (tx) => {
        await tx.execute(`INSERT INTO ${t.ledger} (k, v) VALUES (1, 0), (2, 0)`);
        for (let i = 0; i < 200; i += 1) await tx.execute(`INSERT INTO ${heavy} (k, v) VALUES (?, 0)`, [i]);
      });
      const { default: mysql } = await import('mysql2/promise');
      const other = await mysql.createConnection({ uri: MYSQL_URL });
      try {
        // The other transaction is the heavier one, so InnoDB picks the node's as the victim.
        await other.beginTransaction();
        await other.query(`UPDATE ${heavy} SET v = v + 1`);
        await other.query(`UPDATE ${t.ledger} SET v = v + 10 WHERE k = 2`);
        const call = rawRpc(a.url, 'pay', {}, { 'idempotency-key': 'deadlock-1' });
        await until(() => steps.locked, 15_000, 'the handler holds row 1');
        await sleep(300); // the handler now waits for row 2
        await other.query(`UPDATE ${t.ledger} SET v = v + 10 WHERE k = 1`);
        await other.commit();
        const answer = await call;
        expect(steps.swallowed).toEqual([1213]);
        expect(steps.refused).toHaveLength(1);
        expect(answer.status).toBe(503);
        expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
        expect(await rows(a.store, `SELECT what FROM ${t.audit}`)).toEqual([]);
        expect(await rows(a.store, `SELECT idem_key FROM ${t.dedup}`)).toEqual([]);
        // The client's retry of the key runs once, and a repeat gets its stored result.
        const retry = await rawRpc(a.url, 'pay', {}, { 'idempotency-key': 'deadlock-1' });
        expect(retry.body).toMatchObject({ result: 'paid' });
        const repeat = await rawRpc(a.url, 'pay', {}, { 'idempotency-key': 'deadlock-1' });
        expect(repeat.body).toMatchObject({ result: 'paid' });
        expect(steps.runs).toBe(2);
        expect(await rows(a.store, `SELECT k, v FROM ${t.ledger} ORDER BY k`)).toEqual([
          { k: 1, v: 11 },
          { k: 2, v: 11 },
        ]);
      } finally {
        await other.end().catch(() => undefined);
        await a.store.transaction(async (tx) => {
          for (const table of [t.ledger, t.audit, heavy]) await tx.execute(`DROP TABLE IF EXISTS ${table}`);
        });
      }
    }, 60_000);
  });
});
