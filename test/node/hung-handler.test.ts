/**
 * A handler that never returns (a payment provider's socket that hangs, a promise nobody settles)
 * must not take the node with it. A caller without `X-Hotcold-Timeout-Ms` (any plain JSON-RPC
 * client, curl, a balancer's retry) gave the node no deadline, and the call held its transaction
 * slot, its pooled connection — on SQLite the database's write lock — for ever: every later call
 * waited behind it or failed busy, while `/health` said active and the lease renewed, so the
 * standby never took over. On PostgreSQL and MariaDB the server had long ended the idle session
 * (`idleInTransactionTimeoutMs`); the node did not notice until the handler issued a statement.
 *
 * Now the node ends a call whose handler leaves its transaction idle past
 * `idleInTransactionTimeoutMs` on every store (`503 NOT_EXECUTED`, `ctx.signal` aborts), and the
 * stores reject `transaction()` at once when the database ends the session under `fn`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HandlerContext } from 'hotcold/node';
import { TransactionRolledBackError, storeFromUrl } from 'hotcold/lease';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { rawRpc } from './raw-http.js';
import { fixture, startNode, until, uniq, type Fixture } from './support.js';

const withPostgres = await databaseAvailable('postgres');
const withMariadb = await databaseAvailable('mysql');

let f: Fixture;
afterEach(async () => {
  await f?.cleanup();
});

function hangingApp(aborted: string[]) {
  return {
    hang: async (_params: unknown, ctx: HandlerContext) => {
      await ctx.tx.query('SELECT 1 AS one');
      // Ignores nothing but never settles by itself: only ctx.signal tells it the call is over.
      await new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }));
      aborted.push(String((ctx.signal.reason as Error | undefined)?.message));
      return 'never answered';
    },
    ping: async (_params: unknown, ctx: HandlerContext) => {
      await ctx.tx.query('SELECT 1 AS one');
      return 'pong';
    },
  };
}

function suite(db: string | undefined): void {
  it('a handler that never returns, no caller deadline: answered 503 NOT_EXECUTED once idle past idleInTransactionTimeoutMs; its slot serves the next call', async () => {
    f = fixture();
    const aborted: string[] = [];
    const a = await startNode(f, 'alpha', {
      db,
      leaseTable: `l_${uniq()}`,
      dedup: false,
      feeds: false,
      maxConcurrentTransactions: 1,
      idleInTransactionTimeoutMs: 500,
      // Room for the renewal, which on MariaDB waits for the hung transaction's share lock on the lease row.
      updateInterval: 500,
      waitInterval: 4000,
      handlers: hangingApp(aborted),
    });
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    const hung = rawRpc(a.url, 'hang', {});
    const next = rawRpc(a.url, 'ping', {});
    const answer = await hung;
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'NOT_EXECUTED', node: 'alpha' });
    expect((await next).body).toMatchObject({ result: 'pong' });
    await until(() => aborted.length === 1, 10_000, 'ctx.signal aborted');
    expect(aborted[0]).toMatch(/idle/);
    expect(a.node.status).toBe('active');
  }, 60_000);
}

describe('a hung handler on SQLite', () => suite(undefined));
describe.runIf(withPostgres)('a hung handler on PostgreSQL', () => suite(PG_URL));
describe.runIf(withMariadb)('a hung handler on MariaDB', () => suite(MYSQL_URL));

/** Ends server session `id` from another connection, as a DBA or the server's own bounds would. */
async function killSession(db: string, id: number): Promise<void> {
  if (db.startsWith('postgres')) {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    try {
      await client.query('SELECT pg_terminate_backend($1)', [id]);
    } finally {
      await client.end();
    }
    return;
  }
  const { default: mysql } = await import('mysql2/promise');
  const conn = await mysql.createConnection({ uri: db });
  try {
    await conn.query(`KILL ${id}`);
  } finally {
    await conn.end();
  }
}

function sessionSuite(db: string): void {
  it('the database ends the session under a running fn: transaction() rejects at once with TransactionRolledBackError, not when fn returns', async () => {
    const store = storeFromUrl(db, { table: `l_${uniq()}` });
    let release!: () => void;
    const fnDone = new Promise<void>((resolve) => (release = resolve));
    let session: number | undefined;
    try {
      const tx = store.transaction(async (t) => {
        const rows = await t.query(db.startsWith('postgres') ? 'SELECT pg_backend_pid() AS id' : 'SELECT CONNECTION_ID() AS id');
        session = Number(rows[0]?.id);
        // fn awaits something slow: its transaction sits idle on the server.
        await fnDone;
        return 'committed?';
      });
      const outcome = tx.then(
        (value) => value,
        (error: unknown) => error,
      );
      await until(() => session !== undefined, 10_000, 'fn running');
      await killSession(db, session as number);
      const settled = await Promise.race([outcome, new Promise((r) => setTimeout(() => r('still waiting for fn'), 10_000))]);
      expect(settled).toBeInstanceOf(TransactionRolledBackError);
      expect(settled).toMatchObject({ committed: false });
    } finally {
      release();
      await store.close();
    }
  }, 60_000);
}

describe.runIf(withPostgres)('a session ended under fn on PostgreSQL', () => sessionSuite(PG_URL));
describe.runIf(withMariadb)('a session ended under fn on MariaDB', () => sessionSuite(MYSQL_URL));
