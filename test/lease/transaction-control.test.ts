/**
 * `fn` inside `store.transaction(fn)` may not end, start or nest the store's transaction. A
 * handler that sent `COMMIT` through `ctx.tx` committed its writes (and the node's fence and
 * idempotency claim) early: on PostgreSQL the statements after it ran in autocommit and the
 * store's own COMMIT only warned; the node answered 200 whatever happened next — a `ROLLBACK`
 * undid the work and was answered as executed, a `SAVEPOINT`/`ROLLBACK TO` half-undid it. Now
 * the store refuses such a statement before it is sent (TransactionControlError, naming the
 * keyword only), rolls the transaction back and rejects — even when `fn` caught the refusal and
 * went on — so the node answers 503 NOT_EXECUTED with nothing committed, and keeps serving.
 * Legitimate SQL holding the words (strings, quoted identifiers, dollar-quoted bodies, comments,
 * a SQLite trigger body, a PL/pgSQL DO block) runs and commits. The lexer: transaction-control-lexer.test.ts.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import mysql from 'mysql2/promise';
import { TransactionControlError, mysqlStore, postgresStore, type LeaseStore } from 'hotcold/lease';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { rawRpc } from '../node/raw-http.js';
import { fixture, startNode, until, uniq, type Fixture, type NodeSetup } from '../node/support.js';

const withPostgres = await databaseAvailable('postgres');
const withMariadb = await databaseAvailable('mysql');

interface Target {
  name: string;
  run: boolean;
  db?: string;
  /** Refused statements to try on this database (each in a transaction of its own). */
  refused: readonly (readonly [sql: string, keyword: string])[];
  /** Legitimate statements holding the words, run for real: each inserts one row into the ledger (`?` is the ref). */
  legit: readonly string[];
  /** Statements that create what `legit` needs (besides the ledger), and drop it. */
  setup: (ledger: string) => { create: string[]; drop: string[] };
}

const COMMON_REFUSED = [
  ['COMMIT', 'COMMIT'],
  ['commit', 'COMMIT'],
  ['ROLLBACK', 'ROLLBACK'],
  ['BEGIN', 'BEGIN'],
  ['ROLLBACK WORK', 'ROLLBACK'],
  ['END', 'END'],
  ['/* a note */ COMMIT', 'COMMIT'],
  ['-- a note\nCOMMIT', 'COMMIT'],
  ['SELECT 1; COMMIT', 'COMMIT'],
  ['SET autocommit=1', 'SET autocommit'],
] as const;

const targets: Target[] = [
  {
    name: 'SQLite',
    run: true,
    // SQLite ends a `--` comment at \n only: read to \r, the `'` would hide the COMMIT.
    refused: [...COMMON_REFUSED, ['ABORT', 'ABORT'], ['begin immediate', 'BEGIN'], ["-- x\r'\nCOMMIT", 'COMMIT']],
    legit: [
      "INSERT INTO {ledger} (ref, note) VALUES (?, 'COMMIT; ROLLBACK')",
      'INSERT INTO {ledger} (ref, "commit") VALUES (?, 1)',
      'INSERT INTO {ledger} (ref, `commit`) VALUES (?, 2) -- ; COMMIT',
      'INSERT INTO {ledger} (ref, [commit]) VALUES (?, 3) /* ; END */',
      'INSERT INTO {ledger}_src (ref) VALUES (?)',
    ],
    setup: (ledger) => ({
      create: [
        `CREATE TABLE ${ledger}_src (ref TEXT NOT NULL)`,
        `CREATE TRIGGER ${ledger}_tr AFTER INSERT ON ${ledger}_src BEGIN INSERT INTO ${ledger} (ref, note) VALUES (new.ref, CASE WHEN 1 THEN 'begin; commit' END); END`,
      ],
      drop: [`DROP TABLE IF EXISTS ${ledger}_src`],
    }),
  },
  {
    name: 'PostgreSQL',
    run: withPostgres,
    db: PG_URL,
    refused: [
      ...COMMON_REFUSED,
      ['ABORT', 'ABORT'],
      ['START TRANSACTION', 'START TRANSACTION'],
      ["PREPARE TRANSACTION 'x'", 'PREPARE TRANSACTION'],
      // A body's `AS case` is no CASE, a view's `begin atomic` no body: the `;` ends them.
      ['CREATE FUNCTION tc_case_label() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; END; COMMIT', 'COMMIT'],
      ['CREATE TEMP VIEW tc_atomic_label AS SELECT begin atomic FROM (SELECT 1 AS begin) s; COMMIT', 'COMMIT'],
    ],
    legit: [
      "INSERT INTO {ledger} (ref, note) VALUES (?, 'COMMIT; ROLLBACK')",
      'INSERT INTO {ledger} (ref, "commit") VALUES (?, 1)',
      "INSERT INTO {ledger} (ref, note) VALUES (?, $$ a; COMMIT; $$ || $t$ END $t$ || E'\\'; commit') -- ; COMMIT",
      'INSERT INTO {ledger} (ref, note) VALUES (?, /* ; ROLLBACK /* nested */ */ \'x\')',
      "SELECT {ledger}_add(?)",
    ],
    setup: (ledger) => ({
      // A PL/pgSQL body with its own BEGIN … END, in a DO block and in a function.
      create: [
        `DO $$ BEGIN PERFORM 1; END $$`,
        `CREATE FUNCTION ${ledger}_add(r text) RETURNS void LANGUAGE plpgsql AS $$ BEGIN INSERT INTO ${ledger} (ref, note) VALUES (r, 'begin; commit'); END $$`,
      ],
      drop: [`DROP FUNCTION IF EXISTS ${ledger}_add(text)`],
    }),
  },
  {
    name: 'MariaDB',
    run: withMariadb,
    db: MYSQL_URL,
    refused: [
      ...COMMON_REFUSED,
      ['START TRANSACTION', 'START TRANSACTION'],
      ['/*!COMMIT*/', 'COMMIT'],
      ['SET @@session.autocommit = 1', 'SET autocommit'],
      ["XA START 'x'", 'XA'],
      // MariaDB ends `--` and `#` comments at \n only, and `--` followed by DEL is one.
      ["-- x\r'\nCOMMIT", 'COMMIT'],
      ["# x\r'\nCOMMIT", 'COMMIT'],
      ["--\x7f'\nCOMMIT", 'COMMIT'],
      // An executable comment's closing `*/` is no statement; a version-conditional one the server skips.
      ['/*!*/ COMMIT', 'COMMIT'],
      ['/*!99999 x*/ COMMIT', 'COMMIT'],
      ['/*M!999999 x*/ COMMIT', 'COMMIT'],
      ['ROLLBACK /*M!999999 TO x */', 'ROLLBACK'],
    ],
    legit: [
      "INSERT INTO {ledger} (ref, note) VALUES (?, 'COMMIT; ROLLBACK')",
      'INSERT INTO {ledger} (ref, `commit`) VALUES (?, 1)',
      "INSERT INTO {ledger} (ref, note) VALUES (?, \"it\\'s; commit\") # ; COMMIT",
      'INSERT INTO {ledger} (ref, note) VALUES (?, /* ; ROLLBACK */ \'x\') -- ; END',
    ],
    setup: () => ({ create: [], drop: [] }),
  },
];

for (const target of targets) {
  describe.runIf(target.run)(`${target.name}: fn may not end or nest the store's transaction`, () => {
    let f: Fixture;
    let a: NodeSetup;
    let store: LeaseStore;
    const id = uniq();
    const t = { lease: `tcl_${id}`, dedup: `tcd_${id}`, ledger: `tcg_${id}` };
    const calls = { swallowed: [] as unknown[], after: [] as string[] };
    const rows = async (): Promise<unknown[]> => store.transaction((tx) => tx.query(`SELECT ref FROM ${t.ledger} ORDER BY ref`));
    const extra = target.setup(t.ledger);

    beforeAll(async () => {
      f = fixture();
      a = await startNode(f, 'alpha', {
        ...(target.db === undefined ? {} : { db: target.db }),
        leaseTable: t.lease,
        dedup: { table: t.dedup },
        feeds: false,
        handlers: {
          // Writes, sends the statement, swallows its refusal and writes again: the worst case.
          pay: async (params: { ref: string; control: string }, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
            try {
              await ctx.tx.execute(params.control);
            } catch (error) {
              calls.swallowed.push(error);
            }
            try {
              await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [`${params.ref}-after`]);
            } catch (error) {
              calls.after.push(String(error));
            }
            return 'paid';
          },
          // Writes, then DDL (caught): on MariaDB/MySQL the DDL would COMMIT the write implicitly.
          ddl: async (params: { ref: string; sql: string }, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
            try {
              await ctx.tx.execute(params.sql);
            } catch (error) {
              calls.swallowed.push(error);
            }
            return 'made';
          },
          // A statement expected to fail (a duplicate key), recovered with a savepoint: allowed,
          // it nests inside the node's transaction (on PostgreSQL the failure would otherwise
          // abort the whole transaction).
          savepoint: async (params: { ref: string }, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
            await ctx.tx.execute('SAVEPOINT dup');
            const duplicate = await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]).then(
              () => false,
              () => true,
            );
            await ctx.tx.execute('ROLLBACK TO SAVEPOINT dup');
            await ctx.tx.execute('RELEASE SAVEPOINT dup');
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [`${params.ref}-after`]);
            return { duplicate };
          },
          plain: async (params: { ref: string }, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [params.ref]);
            return 'ok';
          },
        },
      });
      store = a.store;
      await until(() => a.node.status === 'active', 30_000, 'alpha active');
      await store.transaction(async (tx) => {
        await tx.execute(`CREATE TABLE ${t.ledger} (ref VARCHAR(60) PRIMARY KEY, note VARCHAR(200), ${tx.dialect === 'mysql' ? '`commit`' : '"commit"'} INT)`);
      });
      for (const sql of extra.create) await store.transaction((tx) => tx.execute(sql));
    }, 90_000);

    afterAll(async () => {
      if (store !== undefined) {
        for (const sql of [...extra.drop, `DROP TABLE IF EXISTS ${t.ledger}`, `DROP TABLE IF EXISTS ${t.dedup}`, `DROP TABLE IF EXISTS ${t.lease}`]) {
          await store.transaction((tx) => tx.execute(sql)).catch(() => undefined);
        }
      }
      await f?.cleanup();
    }, 60_000);

    it('store.transaction: each statement is refused unsent, even when fn swallows it; the transaction rolls back, nothing is committed', async () => {
      for (const [sql, keyword] of target.refused) {
        const ref = `s-${keyword.replace(/\W/g, '')}-${sql.length}`;
        const outcome = await store
          .transaction(async (tx) => {
            await tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [ref]);
            const refusal = await tx.execute(sql).then(
              () => undefined,
              (error: unknown) => error,
            );
            // Every later statement is refused too: nothing runs after the refusal.
            const later = await tx.execute(`INSERT INTO ${t.ledger} (ref) VALUES (?)`, [`${ref}-later`]).then(
              () => 'ran',
              (error: unknown) => error,
            );
            return { refusal, later };
          })
          .then(
            (value) => ({ resolved: value }),
            (error: unknown) => ({ rejected: error }),
          );
        expect([sql, outcome]).toMatchObject([sql, { rejected: expect.any(TransactionControlError) }]);
        const error = (outcome as { rejected: TransactionControlError }).rejected;
        expect([sql, error.statement, error.committed]).toEqual([sql, keyword, false]);
        expect(error.message).toContain(keyword);
        expect(await rows()).toEqual([]);
      }
    }, 120_000);

    it('a savepoint and ROLLBACK TO it recover from a failed statement: the call commits all it kept', async () => {
      const answer = await rawRpc(a.url, 'savepoint', { ref: 'sp' }, { 'idempotency-key': `sp-${id}` });
      expect(answer.status).toBe(200);
      expect(answer.body).toMatchObject({ result: { duplicate: true } });
      expect(await rows()).toEqual([{ ref: 'sp' }, { ref: 'sp-after' }]);
      await store.transaction(async (tx) => {
        await tx.execute(`DELETE FROM ${t.ledger}`);
        await tx.execute(`DELETE FROM ${t.dedup}`);
      });
    }, 60_000);

    it("the refusal names the keyword, never the statement's values", async () => {
      const secret = 'hunter2-do-not-log';
      const error = await store.transaction((tx) => tx.query(`/* ${secret} */ COMMIT; SELECT '${secret}'`)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(TransactionControlError);
      expect(String((error as Error).message)).not.toContain(secret);
      expect(JSON.stringify(error)).not.toContain(secret);
    });

    it('the node answers 503 NOT_EXECUTED, commits nothing (no row, no idempotency record), and keeps serving', async () => {
      for (const [index, [control, keyword]] of target.refused.slice(0, 6).entries()) {
        const key = `k-${id}-${index}`;
        const answer = await rawRpc(a.url, 'pay', { ref: `n-${index}`, control }, { 'idempotency-key': key });
        expect([control, answer.status, answer.body]).toMatchObject([control, 503, { error: 'NOT_EXECUTED', node: 'alpha' }]);
        expect(calls.swallowed[index]).toBeInstanceOf(TransactionControlError);
        expect((calls.swallowed[index] as TransactionControlError).statement).toBe(keyword);
        expect(await rows()).toEqual([]);
        expect(await store.transaction((tx) => tx.query(`SELECT idem_key FROM ${t.dedup}`))).toEqual([]);
      }
      // The handler's statement after the refusal was refused as well, not run in autocommit.
      expect(calls.after).toHaveLength(6);
      // The node still holds the lease and serves; a retry of a refused key runs (it was not executed).
      expect(a.node.status).toBe('active');
      const ok = await rawRpc(a.url, 'plain', { ref: 'n-ok' }, { 'idempotency-key': `k-${id}-0` });
      expect(ok.status).toBe(200);
      expect(ok.body).toMatchObject({ result: 'ok' });
      expect(await rows()).toEqual([{ ref: 'n-ok' }]);
      await store.transaction((tx) => tx.execute(`DELETE FROM ${t.ledger}`));
    }, 120_000);

    it.runIf(target.name === 'MariaDB')('MariaDB: a handler\'s DDL, which would COMMIT implicitly, is refused: 503 NOT_EXECUTED, nothing committed, no table made', async () => {
      const made = `tcx_${id}`;
      const before = calls.swallowed.length;
      for (const [index, sql] of [`CREATE TABLE ${made} (a INT)`, `/* x */ drop table if exists ${made}`, `ALTER TABLE ${t.ledger} ADD COLUMN z INT`, `TRUNCATE TABLE ${t.ledger}`, `LOCK TABLES ${t.ledger} WRITE`, 'DROP VIEW temporary', `CREATE TABLE temporary (a INT)`, 'SET DEFAULT ROLE NONE'].entries()) {
        const answer = await rawRpc(a.url, 'ddl', { ref: `d-${index}`, sql }, { 'idempotency-key': `kd-${id}-${index}` });
        expect([sql, answer.status, answer.body]).toMatchObject([sql, 503, { error: 'NOT_EXECUTED', node: 'alpha' }]);
        expect(calls.swallowed[before + index]).toBeInstanceOf(TransactionControlError);
        expect((calls.swallowed[before + index] as TransactionControlError).statement).toMatch(/\(implicit commit\)$/);
        expect(await rows()).toEqual([]);
      }
      expect(await store.transaction((tx) => tx.query('SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = ?', [made]))).toEqual([]);
      expect(await store.transaction((tx) => tx.query(`SELECT idem_key FROM ${t.dedup} WHERE idem_key LIKE ?`, [`kd-${id}-%`]))).toEqual([]);
      // A temporary table does not commit: allowed.
      const temporary = await rawRpc(a.url, 'ddl', { ref: 'd-temp', sql: `CREATE TEMPORARY TABLE ${made}_tmp (a INT)` });
      expect(temporary.status).toBe(200);
      expect(await rows()).toEqual([{ ref: 'd-temp' }]);
      await store.transaction((tx) => tx.execute(`DELETE FROM ${t.ledger}`));
    }, 120_000);

    it('legitimate SQL holding the words runs and commits', async () => {
      const refs: string[] = [];
      for (const [index, sql] of target.legit.entries()) {
        const ref = `l-${index}`;
        refs.push(ref);
        await store.transaction((tx) => tx.execute(sql.replaceAll('{ledger}', t.ledger), [ref]));
      }
      expect(await rows()).toEqual(refs.map((ref) => ({ ref })));
      // Through the node too.
      const answer = await rawRpc(a.url, 'plain', { ref: "l-node 'COMMIT'" });
      expect(answer.status).toBe(200);
      await store.transaction((tx) => tx.execute(`DELETE FROM ${t.ledger}`));
    }, 60_000);
  });
}

describe.runIf(withPostgres)('PostgreSQL: a backslash is read as the session reads it', () => {
  // Under standard_conforming_strings = on (the default) this is a string, then a COMMIT; under
  // off the backslash escapes the quote and it is one SELECT of one string.
  const text = "SELECT 'a\\'; COMMIT; -- '";
  const stores: LeaseStore[] = [];
  afterAll(async () => {
    for (const store of stores) await store.close();
  });

  it('standard_conforming_strings on: the COMMIT after the string is refused', async () => {
    const store = postgresStore(PG_URL, { table: `tcl_${uniq()}`, max: 1 });
    stores.push(store);
    await expect(store.transaction((tx) => tx.query(text))).rejects.toMatchObject({ name: 'TransactionControlError', statement: 'COMMIT' });
  });

  it('standard_conforming_strings off (the session reads backslash escapes): the same text is one string, and runs', async () => {
    const url = new URL(PG_URL);
    url.searchParams.set('options', '-c standard_conforming_strings=off');
    const store = postgresStore(url.toString(), { table: `tcl_${uniq()}`, max: 1 });
    stores.push(store);
    expect(await store.transaction((tx) => tx.query(text))).toEqual([{ '?column?': "a'; COMMIT; -- " }]);
    // Turned off inside fn: both readings are checked from then on, so the ambiguous text is refused.
    const onSession = postgresStore(PG_URL, { table: `tcl_${uniq()}`, max: 1 });
    stores.push(onSession);
    await expect(
      onSession.transaction(async (tx) => {
        await tx.execute('SET LOCAL standard_conforming_strings = off');
        return tx.query(text);
      }),
    ).rejects.toMatchObject({ name: 'TransactionControlError', statement: 'COMMIT' });
  });
});

describe.runIf(withPostgres)('PostgreSQL: standard_conforming_strings turned off without naming it', () => {
  it("set_config('standard_' || 'conforming_strings', 'off', true): both readings from then on, the COMMIT after 'a\\'' is refused", async () => {
    const store = postgresStore(PG_URL, { table: `tcl_${uniq()}`, max: 1 });
    const table = `tcs_${uniq()}`;
    try {
      await store.transaction((tx) => tx.execute(`CREATE TABLE ${table} (ref text)`));
      const outcome = await store
        .transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${table} VALUES ('x')`);
          await tx.query("SELECT set_config('standard_' || 'conforming_strings', 'off', true)");
          await tx.query("SELECT 'a\\''; COMMIT; --'").catch(() => undefined);
        })
        .catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(TransactionControlError);
      expect(await store.transaction((tx) => tx.query(`SELECT ref FROM ${table}`))).toEqual([]);
    } finally {
      await store.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${table}`)).catch(() => undefined);
      await store.close();
    }
  }, 60_000);
});

describe.runIf(withMariadb)('MariaDB: "…" is an identifier under ANSI_QUOTES, where a backslash escapes nothing', () => {
  it('a pool of yours with multipleStatements whose sessions run ANSI_QUOTES: the COMMIT after "a\\" is refused, nothing committed', async () => {
    const url = new URL(MYSQL_URL);
    const pool = mysql.createPool({ host: url.hostname, port: Number(url.port || 3306), user: decodeURIComponent(url.username), database: url.pathname.slice(1), multipleStatements: true, connectionLimit: 1 });
    pool.on('connection', (c) => {
      void c.query("SET SESSION sql_mode = CONCAT(@@sql_mode, ',ANSI_QUOTES')");
    });
    const table = `tcq_${uniq()}`;
    const store = mysqlStore(pool, { table: `tcql_${uniq()}` });
    try {
      await store.transaction((tx) => tx.execute(`CREATE TABLE ${table} (ref VARCHAR(20))`));
      const outcome = await store
        .transaction(async (tx) => {
          await tx.execute(`INSERT INTO ${table} VALUES ('x')`);
          await tx.query('SELECT 1 AS "a\\"; COMMIT').catch(() => undefined);
        })
        .catch((e: unknown) => e);
      expect(outcome).toBeInstanceOf(TransactionControlError);
      expect(await store.transaction((tx) => tx.query(`SELECT ref FROM ${table}`))).toEqual([]);
    } finally {
      await store.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${table}`)).catch(() => undefined);
      await store.close();
      await pool.end();
    }
  }, 60_000);
});
