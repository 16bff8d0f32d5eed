import { afterEach, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { fixture, rpc, startNode, until, uniq, type Fixture } from './support.js';

/**
 * On PostgreSQL, holds the lease row FOR NO KEY UPDATE from a separate session: renewals (which
 * need the same lock) wait, fenced request transactions (FOR KEY SHARE) do not. Elsewhere the
 * request's own transaction already blocks renewals, so this does nothing.
 */
async function blockRenewals(db: string | undefined, leaseTable: string, sqlitePath: string): Promise<() => Promise<void>> {
  if (db === undefined) {
    // SQLite: the lease is in its own file, beyond the request's write lock; hold that file's lock.
    const { default: Database } = await import('better-sqlite3');
    const blocker = new Database(`${sqlitePath}-lease`);
    blocker.exec('BEGIN IMMEDIATE');
    return async () => {
      if (blocker.inTransaction) blocker.exec('ROLLBACK');
      blocker.close();
    };
  }
  if (!db.startsWith('postgres')) return async () => {};
  const { default: pg } = await import('pg');
  const client = new pg.Client({ connectionString: db });
  client.on('error', () => {});
  await client.connect();
  await client.query('BEGIN');
  await client.query(`SELECT 1 FROM ${leaseTable} FOR NO KEY UPDATE`);
  return async () => {
    await client.query('COMMIT').catch(() => {});
    await client.end().catch(() => {});
  };
}

/**
 * Idempotency behaviour, run against each database. `db` undefined = the fixture's SQLite file.
 */
export function dedupSuite(db: string | undefined): void {
  let f: Fixture;
  afterEach(async () => {
    await f?.cleanup();
  });

  const tables = () => {
    const id = uniq();
    return { lease: `l_${id}`, dedup: `d_${id}`, feed: `f_${id}`, hits: `h_${id}` };
  };

  function app(hitsTable: string, executed: string[]) {
    return {
      inc: async (params: { delayMs?: number; v?: number }, ctx: HandlerContext) => {
        executed.push(ctx.idempotencyKey ?? '-');
        await ctx.tx.execute(`INSERT INTO ${hitsTable} (k) VALUES (?)`, [ctx.idempotencyKey ?? '-']);
        if (params?.delayMs) await new Promise((r) => setTimeout(r, params.delayMs));
        return { once: Math.random(), token: ctx.token };
      },
    };
  }

  async function twoNodes(t: ReturnType<typeof tables>, executed: string[], extra: Record<string, unknown> = {}) {
    const common = {
      db,
      leaseTable: t.lease,
      dedup: { table: t.dedup, ...(extra.dedup as object) },
      feeds: { table: t.feed },
      handlers: app(t.hits, executed) as never,
    };
    const a = await startNode(f, 'alpha', common);
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    await a.store.transaction((tx) => tx.execute(`CREATE TABLE IF NOT EXISTS ${t.hits} (k VARCHAR(255) NOT NULL)`));
    const b = await startNode(f, 'beta', common);
    return { a, b };
  }

  const hits = async (store: { transaction: Fixture['stores'][number]['transaction'] }, table: string, key: string): Promise<number> =>
    (await store.transaction((tx) => tx.query(`SELECT k FROM ${table} WHERE k = ?`, [key]))).length;

  it('a key executes once; a repeat gets the stored result', async () => {
    f = fixture();
    const t = tables();
    const executed: string[] = [];
    const { a } = await twoNodes(t, executed);
    const first = await rpc(a.url, 'inc', { v: 1 }, { 'idempotency-key': 'same' });
    const second = await rpc(a.url, 'inc', { v: 1 }, { 'idempotency-key': 'same' }, 'other-id');
    expect(first.status).toBe(200);
    expect(second.body).toEqual({ ...first.body, id: 'other-id' });
    expect(executed).toEqual(['same']);
    expect(await hits(a.store, t.hits, 'same')).toBe(1);
    // Without a key every call executes.
    await rpc(a.url, 'inc', { v: 1 });
    await rpc(a.url, 'inc', { v: 1 });
    expect(executed).toHaveLength(3);
  });

  it('concurrent duplicates wait for the first and execute nothing', async () => {
    f = fixture();
    const t = tables();
    const executed: string[] = [];
    const { a } = await twoNodes(t, executed);
    const answers = await Promise.all(Array.from({ length: 8 }, (_, i) => rpc(a.url, 'inc', { delayMs: 100 }, { 'idempotency-key': 'dup' }, i)));
    expect(answers.map((x) => x.status)).toEqual(Array(8).fill(200));
    const results = new Set(answers.map((x) => JSON.stringify(x.body.result)));
    expect(results.size).toBe(1);
    expect(executed).toEqual(['dup']);
    expect(await hits(a.store, t.hits, 'dup')).toBe(1);
  });

  it('rejects a key reused with other params or by another caller (HOTCOLD_KEY_CONFLICT), executing nothing', async () => {
    f = fixture();
    const t = tables();
    const executed: string[] = [];
    const { a } = await twoNodes(t, executed);
    const auth = { authorization: 'Bearer alice-secret-token' };
    expect((await rpc(a.url, 'inc', { v: 1 }, { 'idempotency-key': 'k', ...auth })).status).toBe(200);
    const params = await rpc(a.url, 'inc', { v: 2 }, { 'idempotency-key': 'k', ...auth });
    expect(params.body.error.code).toBe(-32002);
    const caller = await rpc(a.url, 'inc', { v: 1 }, { 'idempotency-key': 'k', authorization: 'Bearer mallory' });
    expect(caller.body.error.code).toBe(-32002);
    expect(caller.body.error.message).toMatch(/another caller/);
    expect(executed).toEqual(['k']);
    // The credential is never stored, only its hash.
    const rows = await a.store.transaction((tx) => tx.query(`SELECT caller FROM ${t.dedup}`));
    expect(JSON.stringify(rows)).not.toContain('alice-secret-token');
  });

  it('after failover the other node answers a known key from the shared record', async () => {
    f = fixture();
    const t = tables();
    const executed: string[] = [];
    const { a, b } = await twoNodes(t, executed);
    const first = await rpc(a.url, 'inc', {}, { 'idempotency-key': 'survives' });
    expect(first.status).toBe(200);
    await a.node.stop({ drain: true });
    await until(() => b.node.status === 'active', 15_000, 'beta active');
    const again = await rpc(b.url, 'inc', {}, { 'idempotency-key': 'survives' });
    expect(again.body.result).toEqual(first.body.result);
    expect(again.headers.get('x-hotcold-node')).toBe('beta');
    expect(executed).toEqual(['survives']);
    expect(await hits(b.store, t.hits, 'survives')).toBe(1);
  });

  it('lease lost mid-handler: rolled back, 503 NOT_EXECUTED, no row and no idempotency record', async () => {
    f = fixture();
    const t = tables();
    const executed: string[] = [];
    const handlers = {
      ...app(t.hits, executed),
      // Holds its transaction until the lease is lost. On MariaDB the renewal waits behind it
      // (the lease row's share lock) and the holder fences itself. On PostgreSQL the fence takes
      // FOR KEY SHARE, which renewals do not wait for, and on SQLite the lease is in a file of its
      // own, so another session blocks the renewals instead (see blockRenewals).
      hang: async (_p: unknown, ctx: HandlerContext) => {
        await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, ['hang']);
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        return 'too late';
      },
    };
    // The idle-transaction timeout would end the hanging transaction first; here the lease must.
    const a = await startNode(f, 'alpha', {
      db,
      idleInTransactionTimeoutMs: false,
      leaseTable: t.lease,
      dedup: { table: t.dedup },
      feeds: { table: t.feed },
      handlers,
    });
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    await a.store.transaction((tx) => tx.execute(`CREATE TABLE IF NOT EXISTS ${t.hits} (k VARCHAR(255) NOT NULL)`));
    const unblock = await blockRenewals(db, t.lease, f.dbPath);
    let answer: Awaited<ReturnType<typeof rpc>>;
    try {
      answer = await rpc(a.url, 'hang', {}, { 'idempotency-key': 'hang-key' });
    } finally {
      await unblock();
    }
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    expect(answer.headers.get('x-hotcold-node')).toBe('alpha');
    expect(answer.body.message).toMatch(/rolled back/);
    expect(await hits(a.store, t.hits, 'hang')).toBe(0);
    const records = await a.store.transaction((tx) => tx.query(`SELECT idem_key FROM ${t.dedup} WHERE idem_key = ?`, ['hang-key']));
    expect(records).toHaveLength(0);
  });

  it.runIf(db !== undefined)('the database ends a request transaction left idle past idleInTransactionTimeoutMs (a frozen node cannot block a takeover)', async () => {
    f = fixture();
    const t = tables();
    const handlers = {
      idle: async (_p: unknown, ctx: HandlerContext) => {
        await ctx.tx.execute(`INSERT INTO ${t.hits} (k) VALUES (?)`, ['idle']);
        await new Promise((r) => setTimeout(r, 1600));
        await ctx.tx.query('SELECT 1 AS one');
        return 'should not commit';
      },
      ok: () => 'ok',
    };
    const a = await startNode(f, 'alpha', {
      db,
      updateInterval: 1000,
      waitInterval: 6000,
      idleInTransactionTimeoutMs: 300,
      leaseTable: t.lease,
      dedup: { table: t.dedup },
      feeds: { table: t.feed },
      handlers,
    });
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    await a.store.transaction((tx) => tx.execute(`CREATE TABLE IF NOT EXISTS ${t.hits} (k VARCHAR(255) NOT NULL)`));
    const answer = await rpc(a.url, 'idle', {}, { 'idempotency-key': 'idle-key' });
    // The session was ended by the database, not by the handler: not executed, never -32603.
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    expect(answer.headers.get('x-hotcold-node')).toBe('alpha');
    expect(await hits(a.store, t.hits, 'idle')).toBe(0);
    // The node keeps serving on fresh connections.
    expect((await rpc(a.url, 'ok')).body.result).toBe('ok');
  });

  it('deletes records after ttlMs with its cleanup timer', async () => {
    f = fixture();
    const t = tables();
    const executed: string[] = [];
    const { a } = await twoNodes(t, executed, { dedup: { ttlMs: 300, cleanupIntervalMs: 100 } });
    await rpc(a.url, 'inc', {}, { 'idempotency-key': 'short-lived' });
    const count = async () => (await a.store.transaction((tx) => tx.query(`SELECT idem_key FROM ${t.dedup}`))).length;
    expect(await count()).toBe(1);
    await until(async () => (await count()) === 0, 10_000, 'cleanup');
  });
}
