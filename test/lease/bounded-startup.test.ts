/**
 * Issue 7 point 2 (PostgreSQL, MariaDB): an engine or node that starts, or a peer frozen inside its
 * start-up, never delays the holder's renewal, the standby's takeover or the active node's calls.
 * Every statement is bounded, and start-up reads the catalog before it takes any DDL lock.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { createLease, storeFromUrl, type Lease, type LeaseStore } from '../../src/lease/index.js';
import type { HandlerContext } from '../../src/node/index.js';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { fixture, rpc, startNode, until, uniq, type Fixture } from '../node/support.js';
import { delay, firstLine, spawnTs, uniqueTable, waitFor } from './helpers.js';

const pgUp = await databaseAvailable('postgres');
const mysqlUp = await databaseAvailable('mysql');

const children: ChildProcess[] = [];
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const child of children.splice(0)) {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await new Promise((resolve) => child.once('exit', resolve));
    }
  }
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

/** A keyed call of 5 s is in flight on the hot node; a second node starts on the same tables. */
function standbyStartSuite(db: string, intervals: { updateInterval: number; waitInterval: number }): void {
  let f: Fixture;
  afterEach(async () => f?.cleanup());

  it('a standby starting while a long keyed call is in flight does not stall the hot node', async () => {
    f = fixture();
    const id = uniq();
    const t = { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}` };
    const handlers = {
      slow: async (_: unknown, ctx: HandlerContext) => {
        // Busy in the database (not idle in its transaction) for 5 s.
        await ctx.tx.query(db.startsWith('postgres') ? 'SELECT pg_sleep(5)' : 'SELECT SLEEP(5)');
        return { token: ctx.token };
      },
      quick: async () => 'ok',
    };
    // The slow call is one 5 s statement on purpose: lift the node's own statement bound (W/2 by
    // default), which would end it (test/node/dead-node-bounds.test.ts covers that bound).
    const common = { db, leaseTable: t.lease, dedup: { table: t.dedup }, feeds: { table: t.feed }, handlers: handlers as never, statementTimeoutMs: false as const, ...intervals };
    const hot = await startNode(f, 'hot', common);
    await until(() => hot.node.status === 'active', 15_000, 'hot active');
    // Warm the path: one quick keyed call before the test proper.
    expect((await rpc(hot.url, 'quick', {}, { 'idempotency-key': `${id}-warm` })).status).toBe(200);

    let slowDone = false;
    const slow = rpc(hot.url, 'slow', {}, { 'idempotency-key': `${id}-slow` }).then((a) => {
      slowDone = true;
      return a;
    });
    await until(() => hot.node.inFlight === 1, 5_000, 'slow call in flight');
    await delay(200);
    // The second node's start-up; on the unfixed code its DDL queues behind the slow call.
    const standby = startNode(f, 'standby', common);
    standby.catch(() => undefined);
    await Promise.race([standby, delay(1500)]);

    const quickDone: boolean[] = [];
    for (let i = 0; i < 5; i += 1) {
      const answer = await rpc(hot.url, 'quick', {}, { 'idempotency-key': `${id}-q${i}` });
      expect(answer.status, JSON.stringify(answer.body)).toBe(200);
      quickDone.push(slowDone);
    }
    // All five quick calls were answered while the slow call was still running.
    expect(quickDone).toEqual([false, false, false, false, false]);
    expect((await slow).status).toBe(200);
    await standby;
  }, 40_000);
}

/** Another session holds a write lock on a different row of the lease table while a standby starts. */
function foreignLockSuite(db: string, lockOtherRow: (table: string) => Promise<() => Promise<void>>): void {
  it("a standby's start-up while another session writes the lease table does not cost the holder its lease", async () => {
    const table = uniqueTable();
    const holderStore = storeFromUrl(db, { table });
    const holder = createLease({ store: holderStore, machineName: 'holder', updateInterval: 500, waitInterval: 2000, mode: 'warm' });
    cleanups.push(async () => {
      await holder.close();
      await holderStore.close();
    });
    const lost: string[] = [];
    holder.events$.subscribe((e) => {
      if (e.type === 'lost') lost.push(e.reason);
    });
    await holder.acquire();
    const unlock = await lockOtherRow(table);
    cleanups.push(unlock);

    const standbyStore = storeFromUrl(db, { table });
    const standby: Lease = createLease({ store: standbyStore, machineName: 'standby', updateInterval: 500, waitInterval: 2000, mode: 'warm' });
    cleanups.push(async () => {
      await standby.close();
      await standbyStore.close();
    });
    void standby.acquire().catch(() => undefined);
    await delay(5000);
    await unlock();
    expect(lost).toEqual([]);
    expect(holder.current?.isValid()).toBe(true);
    expect(standby.state.status).toBe('standby');
  }, 30_000);
}

/**
 * A foreign session holds the lease row's lock; the holder's renewals wait and time out. Each must
 * end ON THE SERVER at its bound: a renewal the client gave up on but that still waits in the
 * server's lock queue holds up whatever queues behind it, and runs whenever the lock frees.
 */
function serverBoundSuite(db: string, lockRow: (table: string) => Promise<() => Promise<void>>, waitingRenewals: (table: string) => Promise<number>): void {
  it('a renewal that waits on a lock ends on the server at its bound, not only in the client', async () => {
    const table = uniqueTable();
    const store = storeFromUrl(db, { table });
    const holder = createLease({ store, machineName: 'holder', updateInterval: 300, waitInterval: 6000, statementTimeoutMs: 300, mode: 'warm' });
    cleanups.push(async () => {
      await holder.close();
      await store.close();
    });
    const failures: string[] = [];
    holder.events$.subscribe((e) => {
      if (e.type === 'renew-failed') failures.push(e.error);
    });
    await holder.acquire();
    const unlock = await lockRow(table);
    cleanups.push(unlock);
    // A renewal times out meanwhile: it waits until just before the deadline leaves room for one
    // retry (self-fencing.ts renewalTimeout) — on the server as in the client.
    await waitFor(() => failures.length >= 1, 20_000);
    await delay(300);
    const waiting = await waitingRenewals(table);
    await unlock();
    expect(waiting, 'renewals still waiting on the server after the client gave up').toBeLessThanOrEqual(1);
  }, 40_000);
}

describe.runIf(pgUp)('bounded start-up on PostgreSQL', () => {
  serverBoundSuite(
    PG_URL,
    async (table) => {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL });
      client.on('error', () => undefined);
      await client.connect();
      await client.query('BEGIN');
      await client.query(`SELECT 1 FROM ${table} FOR UPDATE`);
      return async () => {
        await client.query('COMMIT').catch(() => undefined);
        await client.end().catch(() => undefined);
      };
    },
    async (table) => {
      const { default: pg } = await import('pg');
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      const { rows } = await client.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE $1",
        [`%UPDATE ${table} SET renewed_at%`],
      );
      await client.end();
      return rows[0].n as number;
    },
  );

  standbyStartSuite(PG_URL, { updateInterval: 500, waitInterval: 2000 });

  foreignLockSuite(PG_URL, async (table) => {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: PG_URL });
    client.on('error', () => undefined);
    await client.connect();
    await client.query(`INSERT INTO ${table} (name) VALUES ('other')`);
    await client.query('BEGIN');
    await client.query(`UPDATE ${table} SET version = version + 1 WHERE name = 'other'`);
    return async () => {
      await client.query('COMMIT').catch(() => undefined);
      await client.end().catch(() => undefined);
    };
  });

  it('a peer frozen while holding the start-up lock does not keep the standby from taking over', async () => {
    const table = uniqueTable();
    const holderChild = spawnTs('test/lease/fixtures/holder.ts', [PG_URL, table, 'hotcold', '200', '1000']);
    children.push(holderChild);
    await firstLine(holderChild);
    // A third process inside start-up: it took the engine's start-up lock, then froze.
    const frozen = spawnTs('test/lease/fixtures/pg-session.ts', [PG_URL, 'BEGIN', `SELECT pg_advisory_xact_lock(hashtext('hotcold:${table}'))`]);
    children.push(frozen);
    await firstLine(frozen);
    frozen.kill('SIGSTOP');

    const store: LeaseStore = storeFromUrl(PG_URL, { table });
    const standby = createLease({ store, machineName: 'standby', updateInterval: 200, waitInterval: 1000, mode: 'warm' });
    cleanups.push(async () => {
      frozen.kill('SIGKILL');
      await standby.close();
      await store.close();
    });
    const acquired = standby.acquire();
    acquired.catch(() => undefined);
    await delay(500);
    holderChild.kill('SIGKILL');
    const outcome = await Promise.race([acquired.then((h) => h.token), delay(10_000).then(() => 'not taken over within 10 s')]);
    expect(typeof outcome).toBe('number');
    // Two children through tsx, one after the other (firstLine's 60 s bound each under load), then the 10 s above.
  }, 150_000);
});

describe.runIf(pgUp)('a peer frozen inside its start-up DDL on PostgreSQL', () => {
  it('costs the holder a bounded wait: the server ends the frozen transaction and the holder keeps its lease', async () => {
    const table = uniqueTable();
    const store = storeFromUrl(PG_URL, { table });
    const holder = createLease({ store, machineName: 'holder', updateInterval: 500, waitInterval: 6000, mode: 'warm' });
    cleanups.push(async () => {
      await holder.close();
      await store.close();
    });
    const lost: string[] = [];
    let renewedAfterFreeze = 0;
    let frozenAt = Number.POSITIVE_INFINITY;
    holder.events$.subscribe((e) => {
      if (e.type === 'lost') lost.push(e.reason);
      if (e.type === 'renewed' && performance.now() > frozenAt + 2500) renewedAfterFreeze += 1;
    });
    await holder.acquire();
    // The index is missing (an older deployment, a DBA dropped it): a starting peer creates it.
    await store.run(`DROP INDEX ${table}_name_token`);
    const peer = spawnTs('test/lease/fixtures/frozen-in-ddl.ts', [PG_URL, table]);
    children.push(peer);
    await firstLine(peer);
    peer.kill('SIGSTOP');
    frozenAt = performance.now();
    cleanups.push(async () => {
      peer.kill('SIGKILL');
    });
    await delay(8000);
    expect(lost).toEqual([]);
    expect(renewedAfterFreeze).toBeGreaterThan(0);
    expect(holder.current?.isValid()).toBe(true);
    // The peer starts through tsx (firstLine's 60 s bound under load), then the 8 s above.
  }, 90_000);
});

describe.runIf(mysqlUp)('bounded start-up on MariaDB', () => {
  serverBoundSuite(
    MYSQL_URL,
    async (table) => {
      const { default: mysql } = await import('mysql2/promise');
      const conn = await mysql.createConnection(MYSQL_URL);
      conn.on('error', () => undefined);
      await conn.beginTransaction();
      await conn.query(`SELECT 1 FROM ${table} FOR UPDATE`);
      return async () => {
        await conn.commit().catch(() => undefined);
        await conn.end().catch(() => undefined);
      };
    },
    async (table) => {
      const { default: mysql } = await import('mysql2/promise');
      const conn = await mysql.createConnection(MYSQL_URL);
      const [rows] = await conn.query('SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = ? AND ID <> CONNECTION_ID() AND INFO LIKE ?', [
        'Query',
        `%UPDATE ${table} SET renewed_at%`,
      ]);
      await conn.end();
      return Number((rows as { n: number }[])[0]?.n);
    },
  );

  // InnoDB has no KEY SHARE lock: the call's fence (LOCK IN SHARE MODE on the lease row) holds a
  // renewal for the call's 5 s, and new fences queue behind that waiting renewal (docs/lease.md,
  // MariaDB). That is not the fault under test: no renewal falls inside the test's window.
  standbyStartSuite(MYSQL_URL, { updateInterval: 10_000, waitInterval: 40_000 });

  foreignLockSuite(MYSQL_URL, async (table) => {
    const { default: mysql } = await import('mysql2/promise');
    const conn = await mysql.createConnection(MYSQL_URL);
    conn.on('error', () => undefined);
    await conn.query(`INSERT INTO ${table} (name) VALUES ('other')`);
    await conn.beginTransaction();
    await conn.query(`UPDATE ${table} SET version = version + 1 WHERE name = 'other'`);
    return async () => {
      await conn.commit().catch(() => undefined);
      await conn.end().catch(() => undefined);
    };
  });
});
