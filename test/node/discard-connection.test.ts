/**
 * Issue 7 §3, the connection half: once the node gives up on a call (lease lost, caller out of
 * time), it does not only ANSWER at once — it DISCARDS the call's connection at once too, instead
 * of awaiting a ROLLBACK from a database that may be frozen. So the node's transaction slot and
 * the pooled connection are free while the database is still frozen or the statement still stuck,
 * the server ends the session when it sees the socket gone (rolling the transaction back), and
 * nothing the abandoned call wrote is ever committed.
 *
 * Against PRIVATE PostgreSQL and MariaDB servers that the tests freeze (SIGSTOP); the pools are the
 * tests' own, so which connections they still hold can be checked. Raw node:http requests.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import mysql from 'mysql2/promise';
import { createLease, mysqlStore, postgresStore, type LeaseStore } from 'hotcold/lease';
import { createNode, type HandlerContext, type HotcoldNode } from 'hotcold/node';
import { privatePostgresAvailable, startPrivatePostgres } from '../support/private-postgres.js';
import { privateMariaDbAvailable, startPrivateMariaDb } from './private-mariadb.js';
import { rawRpc, type RawAnswer } from './raw-http.js';
import { until, uniq } from './support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** What the tests need of one database server and a pool of their own on it. */
interface Server {
  url: string;
  freeze(): void;
  thaw(): void;
  stop(): Promise<void>;
}

interface PoolProbe {
  store: LeaseStore;
  /** The statement that returns this session's id as `id`. */
  sessionIdSql: string;
  /** True when the pool holds none of these sessions any more. */
  poolDropped(ids: readonly number[]): boolean;
  /** How many of these sessions the SERVER still has. */
  serverHas(ids: readonly number[]): Promise<number>;
  count(sql: string, params?: unknown[]): Promise<number>;
  /** A session of its own that runs `sql` inside an open transaction (holding its locks) until released. */
  hold(sql: string): Promise<() => Promise<void>>;
  end(): Promise<void>;
}

interface Kind {
  name: string;
  available: () => boolean;
  start(): Promise<Server>;
  probe(server: Server, table: string): PoolProbe;
  createHot(table: string): string;
}

const postgres: Kind = {
  name: 'PostgreSQL',
  available: privatePostgresAvailable,
  start: () => startPrivatePostgres(),
  createHot: (table) => `CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL)`,
  probe(server, table) {
    const pool = new pg.Pool({ connectionString: server.url, max: 10 });
    pool.on('error', () => undefined);
    // The pool's 'remove' comes once the client is out of the pool AND its socket is closed.
    const removed = new Set<number>();
    pool.on('remove', (client) => removed.add((client as pg.PoolClient & { processID: number }).processID));
    const fresh = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
      const c = new pg.Client({ connectionString: server.url });
      await c.connect();
      try {
        return await fn(c);
      } finally {
        await c.end();
      }
    };
    return {
      store: postgresStore(pool, { table }),
      sessionIdSql: 'SELECT pg_backend_pid() AS id',
      poolDropped: (ids) => ids.every((id) => removed.has(id)),
      serverHas: (ids) => fresh(async (c) => Number((await c.query('SELECT COUNT(*) AS c FROM pg_stat_activity WHERE pid = ANY($1)', [ids])).rows[0].c)),
      count: (sql, params = []) => {
        let n = 0;
        const text = sql.replace(/\?/g, () => `$${++n}`);
        return fresh(async (c) => Number((await c.query(text, params)).rows[0].c));
      },
      async hold(sql) {
        const c = new pg.Client({ connectionString: server.url });
        await c.connect();
        await c.query('BEGIN');
        await c.query(sql);
        return async () => {
          await c.query('ROLLBACK');
          await c.end();
        };
      },
      end: () => pool.end(),
    };
  },
};

const mariadb: Kind = {
  name: 'MariaDB',
  available: privateMariaDbAvailable,
  start: () => startPrivateMariaDb(),
  createHot: (table) => `CREATE TABLE ${table} (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB`,
  probe(server, table) {
    const pool = mysql.createPool({ uri: server.url, connectionLimit: 10 });
    // mysql2 has no public view of the connections a pool holds: this is its own list.
    const held = (): Array<{ threadId: number }> => (pool.pool as unknown as { _allConnections: { toArray(): Array<{ threadId: number }> } })._allConnections.toArray();
    const fresh = async <T>(fn: (c: mysql.Connection) => Promise<T>): Promise<T> => {
      const c = await mysql.createConnection({ uri: server.url });
      try {
        return await fn(c);
      } finally {
        await c.end();
      }
    };
    return {
      store: mysqlStore(pool, { table }),
      sessionIdSql: 'SELECT CONNECTION_ID() AS id',
      poolDropped: (ids) => !held().some((c) => ids.includes(c.threadId)),
      serverHas: (ids) =>
        fresh(async (c) => {
          const [rows] = await c.query(`SELECT COUNT(*) AS c FROM information_schema.PROCESSLIST WHERE ID IN (${ids.map(Number).join(',')})`);
          return Number((rows as Array<{ c: unknown }>)[0]?.c);
        }),
      count: (sql, params = []) =>
        fresh(async (c) => {
          const [rows] = await c.query(sql, params);
          return Number((rows as Array<{ c: unknown }>)[0]?.c);
        }),
      async hold(sql) {
        const c = await mysql.createConnection({ uri: server.url });
        await c.beginTransaction();
        await c.query(sql);
        return async () => {
          await c.rollback();
          await c.end();
        };
      },
      end: () => pool.end(),
    };
  },
};

for (const kind of [postgres, mariadb]) {
  describe.runIf(kind.available())(`an abandoned call's connection is discarded at once (private ${kind.name})`, () => {
    let server: Server;
    let cleanups: Array<() => Promise<unknown>> = [];
    beforeAll(async () => {
      server = await kind.start();
    }, 120_000);
    afterAll(async () => {
      await server?.stop();
    });
    afterEach(async () => {
      server.thaw();
      for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
      cleanups = [];
    });

    async function setup(handlers: Record<string, unknown>, options: { waitInterval: number; slots: number }) {
      const id = uniq();
      const t = { lease: `l_${id}`, dedup: `d_${id}`, hits: `h_${id}`, hot: `x_${id}` };
      const probe = kind.probe(server, t.lease);
      cleanups.push(() => probe.end());
      cleanups.push(() => probe.store.close());
      const lease = createLease({ store: probe.store, machineName: 'alpha', updateInterval: 300, waitInterval: options.waitInterval, mode: 'warm' });
      cleanups.push(() => lease.close());
      const node: HotcoldNode = createNode({
        lease,
        port: 0,
        handlers: handlers as never,
        dedup: { table: t.dedup },
        feeds: false,
        maxConcurrentTransactions: options.slots,
        // Far beyond the test: what frees a session here must be the node, not the server's timers.
        idleInTransactionTimeoutMs: 120_000,
        statementTimeoutMs: 120_000,
      });
      cleanups.push(() => node.close());
      const { url } = await node.start();
      await until(() => node.status === 'active', 30_000, 'alpha active');
      await probe.store.transaction(async (tx) => {
        await tx.execute(`CREATE TABLE ${t.hits} (k VARCHAR(64) NOT NULL)`);
      });
      await probe.store.transaction(async (tx) => {
        await tx.execute(kind.createHot(t.hot));
        await tx.execute(`INSERT INTO ${t.hot} (id, v) VALUES (1, 0)`);
      });
      return { t, probe, node, url, lease };
    }

    it('a frozen database: after the lease is lost, every call holding a slot is answered NOT_EXECUTED and its connection is out of the pool while the database is still frozen; on resume the server has no such session and no row', async () => {
      const SLOTS = 3;
      const sessions: number[] = [];
      let t!: Awaited<ReturnType<typeof setup>>['t'];
      const env = await setup(
        {
          // Writes, then waits on something outside the database: idle in its transaction.
          hold: async (_p: unknown, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, [ctx.idempotencyKey]);
            const [row] = await ctx.tx.query<{ id: number }>(envProbe().sessionIdSql);
            sessions.push(Number(row?.id));
            // Long past the freeze below, however slowly the calls start on a loaded machine.
            await sleep(8_000);
            await ctx.tx.query('SELECT 1 AS one');
            return 'committed';
          },
          ping: () => 'pong',
        },
        { waitInterval: 1500, slots: SLOTS },
      );
      t = env.t;
      const envProbe = () => env.probe;
      const calls = Array.from({ length: SLOTS }, (_, i) => rawRpc(env.url, 'hold', {}, { 'idempotency-key': `hold-${i}` }));
      await until(() => sessions.length === SLOTS, 20_000, 'every slot taken by a call');
      await sleep(100);
      server.freeze();
      const frozenAt = performance.now();
      const timeout = sleep(10_000).then(() => 'still unanswered' as const);
      const answers = await Promise.all(calls.map((c) => Promise.race([c, timeout])));
      for (const answer of answers) {
        expect(answer).not.toBe('still unanswered');
        expect((answer as RawAnswer).status).toBe(503);
        expect((answer as RawAnswer).body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
      }
      // Still frozen: the calls' connections must be gone from the pool already (on the unfixed
      // node they stay checked out, awaiting a ROLLBACK the frozen server never answers).
      await until(() => env.probe.poolDropped(sessions), 8_000, 'the abandoned calls\' connections discarded while the database is frozen');
      const discardedAfterMs = performance.now() - frozenAt;
      console.log(
        `${kind.name} frozen: ${SLOTS} calls answered and their connections out of the pool ${Math.round(discardedAfterMs)} ms after the freeze (W = 1500 ms)`,
      );
      server.thaw();
      // The server ended those sessions (it saw the sockets close) and rolled their writes back.
      await until(async () => (await env.probe.serverHas(sessions)) === 0, 30_000, 'the server ended the abandoned sessions');
      expect(await env.probe.count(`SELECT COUNT(*) AS c FROM ${t.hits}`)).toBe(0);
      expect(await env.probe.count(`SELECT COUNT(*) AS c FROM ${t.dedup}`)).toBe(0);
      // The node takes the lease back and serves again: its slots are free.
      await until(() => env.node.status === 'active', 30_000, 'alpha active again');
      const again = await rawRpc(env.url, 'ping', {});
      expect(again.status).toBe(200);
      expect(again.body.result).toBe('pong');
    }, 120_000);

    it("a statement stuck on a lock: once the callers' time is spent, their slots serve a new call at once (the lease still held), their connections are gone, and their writes never land", async () => {
      const SLOTS = 2;
      // Beyond the callers' time: on MariaDB the stuck calls' fence (a share lock on the lease row)
      // holds up the renewal until they are ended.
      const W = 6000;
      const sessions: number[] = [];
      let t!: Awaited<ReturnType<typeof setup>>['t'];
      let probe!: PoolProbe;
      const env = await setup(
        {
          bump: async (_p: unknown, ctx: HandlerContext) => {
            const [row] = await ctx.tx.query<{ id: number }>(probe.sessionIdSql);
            sessions.push(Number(row?.id));
            await ctx.tx.execute(`UPDATE ${t.hot} SET v = v + 1 WHERE id = 1`);
            return 'bumped';
          },
          ping: async (_p: unknown, ctx: HandlerContext) => {
            await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, ['ping']);
            return 'pong';
          },
        },
        { waitInterval: W, slots: SLOTS },
      );
      t = env.t;
      probe = env.probe;
      // Another session holds the row lock for longer than the test waits.
      const releaseLock = await env.probe.hold(`UPDATE ${t.hot} SET v = v WHERE id = 1`);
      let locked = true;
      cleanups.push(async () => {
        if (locked) await releaseLock();
      });
      const calls = Array.from({ length: SLOTS }, (_, i) => rawRpc(env.url, 'bump', {}, { 'idempotency-key': `bump-${i}`, 'x-hotcold-timeout-ms': '2500' }));
      await until(() => sessions.length === SLOTS, 20_000, 'every slot taken by a call');
      const answers = await Promise.all(calls);
      for (const answer of answers) {
        expect(answer.status).toBe(503);
        // EXPIRED from the node's own deadline, or NOT_EXECUTED when the server's statement bound
        // (lowered to the caller's remaining time) ends the statement a moment first: both "not run".
        expect(answer.body).toMatchObject({ node: 'alpha' });
        expect(['EXPIRED', 'NOT_EXECUTED']).toContain((answer.body as { error?: string }).error);
      }
      // The lock is still held: the unfixed node keeps both slots until it is released.
      const started = performance.now();
      const next = await Promise.race([rawRpc(env.url, 'ping', {}, { 'x-hotcold-timeout-ms': '20000' }), sleep(12_000).then(() => 'no slot' as const)]);
      expect(next).not.toBe('no slot');
      expect((next as RawAnswer).status).toBe(200);
      expect((next as RawAnswer).body.result).toBe('pong');
      await until(() => env.probe.poolDropped(sessions), 8_000, "the expired calls' connections discarded");
      console.log(`${kind.name} lock wait: a new call was served ${Math.round(performance.now() - started)} ms after ${SLOTS} expired calls freed their slots, the lock still held`);
      // The server ends the abandoned sessions although their statements are still waiting for
      // the lock (it would not notice the closed sockets before the lock is granted), so their
      // locks go too — on MariaDB the fence's share lock on the lease row, which the renewal
      // waits for: the node keeps its lease past W while the foreign lock is still held.
      const token = env.lease.current?.token;
      expect(token).toBeDefined();
      await until(async () => (await env.probe.serverHas(sessions)) === 0, 20_000, 'the server ended the abandoned sessions while the lock is still held');
      await sleep(W + 500);
      expect({ status: env.lease.state.status, token: env.lease.current?.token }).toEqual({ status: 'active', token });
      locked = false;
      await releaseLock();
      await until(async () => (await env.probe.serverHas(sessions)) === 0, 30_000, 'the server ended the abandoned sessions');
      expect(await env.probe.count(`SELECT v AS c FROM ${t.hot} WHERE id = 1`)).toBe(0);
      expect(await env.probe.count(`SELECT COUNT(*) AS c FROM ${t.dedup} WHERE idem_key LIKE ?`, ['bump-%'])).toBe(0);
    }, 120_000);
  });
}
