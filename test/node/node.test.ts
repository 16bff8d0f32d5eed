import { afterEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { ConfigurationError } from 'hotcold/lease';
import { createNode, RpcError, type HandlerContext } from 'hotcold/node';
import { createLease, sqliteStore } from 'hotcold/lease';
import { fixture, rpc, startNode, until, type Fixture } from './support.js';

let f: Fixture;
afterEach(async () => {
  await f?.cleanup();
});

async function setupCounter(tx: HandlerContext['tx']): Promise<void> {
  await tx.execute('CREATE TABLE IF NOT EXISTS counter (n INTEGER NOT NULL)');
}

describe('createNode on SQLite', () => {
  it('answers 503 NOT_ACTIVE with Retry-After and node headers while not holding the lease, and executes nothing', async () => {
    f = fixture();
    let executed = 0;
    const { url, node } = await startNode(f, 'alpha', { acquire: false, handlers: { ping: () => ++executed } });
    const answer = await rpc(url, 'ping');
    expect(answer.status).toBe(503);
    expect(answer.body).toMatchObject({ error: 'NOT_ACTIVE', status: 'standby', node: 'alpha' });
    expect(answer.headers.get('retry-after')).toBe('1');
    expect(answer.headers.get('x-hotcold-node')).toBe('alpha');
    expect(answer.headers.get('x-hotcold-epoch')).toBe('0');
    expect(answer.headers.get('x-hotcold-dedup')).toBe('1');
    const health = await fetch(`${url}/health`);
    expect(health.status).toBe(503);
    expect(await health.json()).toMatchObject({ status: 'standby', node: 'alpha' });
    expect(executed).toBe(0);
    expect(node.status).toBe('standby');
  });

  it('serves while active: result, headers on every answer, health active; the standby says standby', async () => {
    f = fixture();
    const a = await startNode(f, 'alpha', { handlers: { echo: (p: unknown) => p } });
    await until(() => a.node.status === 'active', 10_000, 'alpha active');
    const b = await startNode(f, 'beta', { handlers: { echo: (p: unknown) => p } });
    const answer = await rpc(a.url, 'echo', { x: 1 });
    expect(answer.status).toBe(200);
    expect(answer.body).toEqual({ jsonrpc: '2.0', id: 1, result: { x: 1 } });
    const token = a.lease.current?.token;
    expect(answer.headers.get('x-hotcold-node')).toBe('alpha');
    expect(answer.headers.get('x-hotcold-epoch')).toBe(String(token));
    expect(answer.headers.get('x-hotcold-dedup')).toBe('1');
    const health = await fetch(`${a.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'active', node: 'alpha', epoch: token });
    expect(health.headers.get('x-hotcold-node')).toBe('alpha');
    const standby = await fetch(`${b.url}/health`);
    expect(standby.status).toBe(503);
    expect(((await standby.json()) as { status: string }).status).toBe('standby');
    const refused = await rpc(b.url, 'echo', {});
    expect(refused.status).toBe(503);
    expect(refused.body.epoch).toBe(token);
    // JSON-RPC errors, with node headers too.
    const missing = await rpc(a.url, 'nope');
    expect(missing.body.error.code).toBe(-32601);
    expect(missing.headers.get('x-hotcold-node')).toBe('alpha');
    const notFound = await fetch(`${a.url}/elsewhere`);
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('x-hotcold-node')).toBe('alpha');
    await notFound.text();
  });

  it('maps bad requests and handler errors to JSON-RPC errors', async () => {
    f = fixture();
    const { url, node } = await startNode(f, 'alpha', {
      handlers: {
        typed: () => {
          throw new RpcError(42, 'no funds', { need: 3 });
        },
        crash: () => {
          throw new Error('secret internals password=hunter22');
        },
        notify: () => 1,
      },
    });
    await until(() => node.status === 'active');
    const post = (body: string) => fetch(`${url}/rpc`, { method: 'POST', body, headers: { 'content-type': 'application/json' } }).then(async (r) => ({ status: r.status, body: await r.text() }));
    expect(JSON.parse((await post('{oops')).body).error.code).toBe(-32700);
    const batch = JSON.parse((await post('[{"jsonrpc":"2.0","id":1,"method":"notify"}]')).body);
    expect(batch.error.code).toBe(-32600);
    expect(batch.error.message).toMatch(/batch/);
    expect(JSON.parse((await post('{"jsonrpc":"2.0","id":1,"method":"notify","params":5}')).body).error.code).toBe(-32600);
    expect(JSON.parse((await post('{"jsonrpc":"1.0","id":1,"method":"notify"}')).body).error.code).toBe(-32600);
    expect((await post('{"jsonrpc":"2.0","method":"notify"}')).status).toBe(204);
    const typed = await rpc(url, 'typed');
    expect(typed.body.error).toEqual({ code: 42, message: 'no funds', data: { need: 3 } });
    const crash = await rpc(url, 'crash');
    expect(crash.body.error).toEqual({ code: -32603, message: 'internal error' });
    expect(JSON.stringify(crash.body)).not.toContain('hunter22');
    const long = await rpc(url, 'notify', {}, { 'idempotency-key': 'k'.repeat(201) });
    expect(long.body.error.code).toBe(-32600);
    const big = await post(JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'notify', params: { s: 'x'.repeat(2 << 20) } }));
    expect(big.status).toBe(413);
  });

  it('validates its options with ConfigurationError naming the field', async () => {
    f = fixture();
    const store = sqliteStore(f.dbPath);
    f.stores.push(store);
    const lease = createLease({ store, machineName: 'alpha', updateInterval: 200, waitInterval: 1000 });
    f.leases.push(lease);
    const bad = (options: Record<string, unknown>, field: string): void => {
      try {
        createNode({ lease, port: 0, handlers: {}, ...options });
        expect.unreachable(`expected ${field} to be rejected`);
      } catch (error) {
        expect(error).toBeInstanceOf(ConfigurationError);
        expect((error as ConfigurationError).field).toBe(field);
      }
    };
    bad({ port: -1 }, 'port');
    bad({ port: 70000 }, 'port');
    bad({ lease: {} }, 'lease');
    bad({ handlers: { x: 1 } }, 'handlers.x');
    bad({ handlers: { 'hotcold.feed': () => 1 } }, 'handlers.hotcold.feed');
    bad({ dedup: { table: 'drop table;' } }, 'dedup.table');
    bad({ dedup: { ttlMs: 0 } }, 'dedup.ttlMs');
    bad({ feeds: { table: '1x' } }, 'feeds.table');
    bad({ rpcPath: 'rpc' }, 'rpcPath');
    bad({ maxBodyBytes: 0 }, 'maxBodyBytes');
    bad({ statementTimeoutMs: 0 }, 'statementTimeoutMs');
    bad({ statementTimeoutMs: 1.5 }, 'statementTimeoutMs');
    bad({ colour: 'red' }, 'colour');
  });

  it('gives handlers a fenced transaction: writes commit with the answer', async () => {
    f = fixture();
    const { url, node, store } = await startNode(f, 'alpha', {
      handlers: {
        add: async (_p: unknown, ctx: HandlerContext) => {
          await setupCounter(ctx.tx);
          await ctx.tx.execute('INSERT INTO counter (n) VALUES (?)', [ctx.token]);
          return (await ctx.tx.query('SELECT COUNT(*) AS c FROM counter'))[0]?.c;
        },
      },
    });
    await until(() => node.status === 'active');
    expect((await rpc(url, 'add')).body.result).toBe(1);
    expect((await rpc(url, 'add')).body.result).toBe(2);
    const rows = await store.transaction((tx) => tx.query('SELECT n FROM counter'));
    expect(rows).toHaveLength(2);
  });

  it('lease lost mid-handler: the transaction rolls back, the answer is 503 NOT_EXECUTED with node headers, nothing is recorded', async () => {
    f = fixture();
    let started = 0;
    const { url, node, store, lease } = await startNode(f, 'alpha', {
      // The call must outlive the lease, not its own idle bound (test/node/hung-handler.test.ts).
      idleInTransactionTimeoutMs: false,
      handlers: {
        stuck: async (_p: unknown, ctx: HandlerContext) => {
          await setupCounter(ctx.tx);
          await ctx.tx.execute('INSERT INTO counter (n) VALUES (1)');
          started += 1;
          // Another session holds the lease file's lock: renewals fail, the holder fences itself.
          await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
          return 'never';
        },
        count: async (_p: unknown, ctx: HandlerContext) => {
          await setupCounter(ctx.tx);
          return (await ctx.tx.query('SELECT COUNT(*) AS c FROM counter'))[0]?.c;
        },
      },
    });
    await until(() => node.status === 'active');
    const firstToken = lease.current?.token;
    // The lease is in its own file, which the request's transaction does not lock: block the
    // renewals from another connection, as a process frozen inside a lease statement would.
    const blocker = new Database(`${f.dbPath}-lease`);
    blocker.exec('BEGIN IMMEDIATE');
    let answer: Awaited<ReturnType<typeof rpc>>;
    try {
      answer = await rpc(url, 'stuck', {}, { 'idempotency-key': 'stuck-1' });
    } finally {
      blocker.exec('ROLLBACK');
      blocker.close();
    }
    expect(started).toBe(1);
    expect(answer.status).toBe(503);
    expect(answer.body.error).toBe('NOT_EXECUTED');
    expect(answer.body.message).toMatch(/rolled back/);
    expect(answer.headers.get('x-hotcold-node')).toBe('alpha');
    expect(answer.headers.get('x-hotcold-epoch')).toBe(String(firstToken));
    // Warm mode: the node takes the lease again (new token) and the rows are not there.
    await until(() => node.status === 'active' && lease.current?.token !== firstToken, 10_000, 're-acquire');
    expect((await rpc(url, 'count')).body.result).toBe(0);
    const dedupRows = await store.transaction((tx) => tx.query("SELECT * FROM hotcold_idempotency WHERE idem_key = 'stuck-1'"));
    expect(dedupRows).toHaveLength(0);
  });

  it('seals ctx.tx after the request: a late statement throws instead of autocommitting', async () => {
    f = fixture();
    let late: Promise<unknown> | undefined;
    const { url, node } = await startNode(f, 'alpha', {
      handlers: {
        leak: (_p: unknown, ctx: HandlerContext) => {
          // Settled into a value at once: on a loaded machine the late statement can fail before
          // the test gets to await it, and a rejection nobody handled yet is reported as unhandled.
          late = new Promise((r) => setTimeout(r, 20))
            .then(() => ctx.tx.execute('CREATE TABLE leaked (x INTEGER)'))
            .then(() => new Error('the late statement ran'), (error: unknown) => error);
          return 'ok';
        },
      },
    });
    await until(() => node.status === 'active');
    expect((await rpc(url, 'leak')).body.result).toBe('ok');
    const error = await late;
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toMatch(/transaction is over/);
  });
});

describe('resources', () => {
  it('leaves no timer, socket or server behind after close() (cleanup timer, long-polls, keep-alive)', async () => {
    f = fixture();
    const count = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const before = count();
    const store = sqliteStore(f.dbPath);
    const lease = createLease({ store, machineName: 'alpha', updateInterval: 200, waitInterval: 1000 });
    const node = createNode({ lease, port: 0, handlers: { ping: () => 'pong' }, dedup: { cleanupIntervalMs: 50 } });
    const { url } = await node.start();
    await until(() => node.status === 'active');
    expect((await rpc(url, 'ping', {}, { 'idempotency-key': 'x' })).body.result).toBe('pong');
    const poll = rpc(url, 'hotcold.feed', { feed: 'quiet', after: 0, waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 100));
    await node.close();
    // The long-poll ended at once with an empty page rather than holding close() for 10 s.
    expect((await poll).body.result).toEqual({ items: [], last: 0 });
    await lease.close();
    await store.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(count()).toBeLessThanOrEqual(before);
  });

  it('stop() while start() is still binding leaves nothing listening and nothing running', async () => {
    f = fixture();
    const count = () => process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const before = count();
    const store = sqliteStore(f.dbPath);
    const lease = createLease({ store, machineName: 'alpha', updateInterval: 200, waitInterval: 1000 });
    const node = createNode({ lease, port: 0, handlers: {}, dedup: { cleanupIntervalMs: 50 } });
    const starting = node.start();
    const stopped = node.stop();
    await expect(starting).rejects.toThrow(/stopped/);
    await stopped;
    await lease.close();
    await store.close();
    await new Promise((r) => setTimeout(r, 50));
    expect(count()).toBeLessThanOrEqual(before);
  });
});
