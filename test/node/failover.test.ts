import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type HotcoldClient, type FeedItem } from 'hotcold';
import type { LeaseEvent } from 'hotcold/lease';
import type { HandlerContext } from 'hotcold/node';
import { ledgerApp, readLedger, startDevBalancer, type DevBalancer } from 'hotcold/testing';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { fixture, rpc, startNode, until, uniq, type Fixture } from './support.js';

let f: Fixture;
let balancer: DevBalancer | undefined;
let client: HotcoldClient | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
  await balancer?.close();
  balancer = undefined;
  await f?.cleanup();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function newClient(url: string): HotcoldClient {
  return createClient({
    url,
    retry: { maxAttempts: 40, minDelayMs: 20, maxDelayMs: 200, jitter: 'full' },
    budget: false,
    breaker: false,
    timeoutMs: 5000,
    deadlineMs: 20_000,
    methods: { transfer: { idempotent: false }, balance: { idempotent: true } },
  });
}

async function ledgerPair(waitInterval: number, extraHandlers: Record<string, unknown> = {}, db?: string) {
  const id = uniq();
  const app = ledgerApp({ prefix: `lg_${id}` });
  const handlers = { ...app.handlers, ...extraHandlers } as never;
  const tables = db === undefined ? {} : { db, leaseTable: `l_${id}`, dedup: { table: `d_${id}` }, feeds: { table: `f_${id}` } };
  const a = await startNode(f, 'alpha', { handlers, waitInterval, ...tables });
  await app.setup(a.store);
  await until(() => a.node.status === 'active', 15_000, 'alpha active');
  const b = await startNode(f, 'beta', { handlers, waitInterval, ...tables });
  balancer = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 50 });
  return { a, b, app };
}

describe('graceful drain and failover through the dev balancer', () => {
  it('drain: health turns draining at once, the in-flight call completes, the standby takes over', async () => {
    f = fixture();
    // The call ends when the test says so, not after a sleep: on a loaded machine a 300 ms sleep
    // could end (and the drain finish, and the server close) before the checks below ran.
    let finish!: () => void;
    const gate = new Promise<void>((resolve) => (finish = resolve));
    const slow = async (_p: unknown, ctx: HandlerContext) => {
      await ctx.tx.execute('CREATE TABLE IF NOT EXISTS slow_done (x INTEGER)');
      await gate;
      await ctx.tx.execute('INSERT INTO slow_done (x) VALUES (1)');
      return 'finished';
    };
    // waitInterval 30 s: beta active within the 10 s below can only come from release(), not expiry.
    const { a, b } = await ledgerPair(30_000, { slow });
    const inFlight = rpc(a.url, 'slow');
    await until(() => a.node.inFlight === 1, 5000, 'slow call running');
    const stopping = a.node.stop({ drain: true });
    expect(a.node.status).toBe('draining');
    const health = await fetch(`${a.url}/health`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { status: string }).status).toBe('draining');
    expect((await rpc(a.url, 'ping')).status).toBe(503);
    expect(a.node.inFlight).toBe(1);
    finish();
    const answer = await inFlight;
    expect(answer.status).toBe(200);
    expect(answer.body.result).toBe('finished');
    await stopping;
    await until(() => b.node.status === 'active', 10_000, 'beta active');
    const rows = await b.store.transaction((tx) => tx.query('SELECT x FROM slow_done'));
    expect(rows).toHaveLength(1);
  });

});

function switchoverUnderLoad(db: string | undefined): void {
  it('a planned switchover under load costs the client zero failed calls, and every acknowledged transfer is in the ledger once', async () => {
    f = fixture();
    // waitInterval 5 s: the handover comes from release(), at once, never from expiry, so a long
    // interval costs nothing; 1 s let a stall of the shared database or of this process (other
    // suites running DDL, CPU hogs) fence a holder, which is self-fencing, not this test's subject.
    const { a, b, app } = await ledgerPair(5000, {}, db);
    const alphaToken = a.lease.current?.token;
    const betaTokens: number[] = [];
    const betaTerms = b.lease.events$.subscribe((e) => {
      if (e.type === 'acquired') betaTokens.push(e.token);
    });
    client = newClient(balancer!.url);
    const acknowledged: string[] = [];
    const failed: unknown[] = [];
    let stop = false;
    let slowest = 0;
    const worker = async (w: number) => {
      for (let i = 0; !stop && i < 10_000; i += 1) {
        const ref = `w${w}-${i}`;
        const t0 = Date.now();
        try {
          await client!.call('transfer', { from: `acct${w}`, to: 'pool', amount: 1, ref });
          acknowledged.push(ref);
        } catch (error) {
          failed.push(error);
        }
        slowest = Math.max(slowest, Date.now() - t0);
      }
    };
    const workers = Array.from({ length: 8 }, (_, w) => worker(w));
    await until(() => acknowledged.length >= 40, 15_000, 'load running');
    await a.node.stop({ drain: true });
    await until(() => b.node.status === 'active', 10_000, 'beta active');
    const at = acknowledged.length;
    await until(() => acknowledged.length >= at + 40, 15_000, 'load on beta');
    stop = true;
    await Promise.all(workers);
    betaTerms.unsubscribe();
    expect(failed).toEqual([]);
    const ledger = await readLedger(b.store, app.entriesTable.replace(/_entries$/, ''));
    const refs = ledger.map((e) => e.ref);
    expect(new Set(refs).size).toBe(refs.length);
    expect(refs.sort()).toEqual([...acknowledged].sort());
    // One handover, at the switchover: alpha's token up to it, then beta's takeover token and only beta's terms (under load beta, alone, may lapse and take a new term).
    const tokens = ledger.map((e) => e.token);
    expect(tokens[0]).toBe(alphaToken);
    const handover = tokens.findIndex((t) => t !== alphaToken);
    expect(handover, JSON.stringify({ alphaToken, betaTokens })).toBeGreaterThan(0);
    expect(tokens[handover], JSON.stringify({ alphaToken, betaTokens })).toBe(betaTokens[0]);
    expect(tokens.slice(handover).filter((t) => !betaTokens.includes(t)), JSON.stringify({ alphaToken, betaTokens })).toEqual([]);
    expect(tokens).toEqual([...tokens].sort((x, y) => x - y));
    // No bound on `slowest`: a timing, and the client's deadlineMs bounds every call already.
    console.log(`planned switchover (${db?.split(':')[0] ?? 'sqlite'}): ${acknowledged.length} calls, 0 failed, slowest ${slowest} ms`);
  });
}

/**
 * The kind behind the switchover test's flakiness under load: a renewal waits for the node's own
 * running fenced transactions (InnoDB share lock, SQLite's one connection), which the lease guide
 * allows while they stay well under waitInterval − updateInterval. The engine used to give it up
 * after statementTimeoutMs (here 200 ms) although the database still ran and committed it; under
 * load every renewal did, and the holder fenced itself — a spurious change of holder (and token).
 */
function renewalBehindFencedTransaction(db: string | undefined, renewalWaits: boolean): void {
  it('a renewal waiting behind a running fenced transaction is acknowledged, not abandoned: same token, no renew-failed', async () => {
    f = fixture();
    const id = uniq();
    const holdMs = 1000; // 5 × statementTimeoutMs, far below waitInterval − updateInterval (4800 ms)
    const hold = async (_p: unknown, ctx: HandlerContext) => {
      await sleep(holdMs);
      return ctx.token;
    };
    const tables = db === undefined ? {} : { db, leaseTable: `l_${id}`, dedup: { table: `d_${id}` }, feeds: { table: `f_${id}` } };
    const a = await startNode(f, 'alpha', { handlers: { hold }, updateInterval: 200, waitInterval: 5000, ...tables });
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    expect(a.lease.options.statementTimeoutMs).toBe(200);
    const token = a.lease.current?.token;
    const events: LeaseEvent[] = [];
    const subscription = a.lease.events$.subscribe((e) => events.push(e));
    try {
      const answer = await rpc(a.url, 'hold');
      expect(answer.status).toBe(200);
      expect(answer.body.result).toBe(token);
      // Let the renewal that waited behind the transaction come back.
      await until(() => events.some((e) => e.type === 'renewed'), 10_000, 'a renewal after the hold');
    } finally {
      subscription.unsubscribe();
    }
    expect(events.filter((e) => e.type === 'renew-failed' || e.type === 'lost')).toEqual([]);
    expect(a.lease.current?.token).toBe(token);
    expect(a.node.status).toBe('active');
    if (renewalWaits) {
      // The scenario happened: some renewal did wait for the transaction (longer than statementTimeoutMs).
      const slowest = Math.max(...events.map((e) => (e.type === 'renewed' ? e.latencyMs : 0)));
      expect(slowest).toBeGreaterThan(200);
    }
  });
}

describe('planned switchover under load on SQLite', () => {
  switchoverUnderLoad(undefined);
  // The lease row lives in a file of its own: a renewal never waits for the application's lock.
  renewalBehindFencedTransaction(undefined, false);
});
describe.runIf(await databaseAvailable('postgres'))('planned switchover under load on PostgreSQL', () => {
  switchoverUnderLoad(PG_URL);
  // FOR KEY SHARE: the renewal does not wait for fenced transactions at all.
  renewalBehindFencedTransaction(PG_URL, false);
});
describe.runIf(await databaseAvailable('mysql'))('planned switchover under load on MariaDB', () => {
  switchoverUnderLoad(MYSQL_URL);
  renewalBehindFencedTransaction(MYSQL_URL, true);
});

describe('resumable feeds', () => {
  it('long-poll returns as soon as an append commits; appends get gapless increasing seqs', async () => {
    f = fixture();
    const handlers = {
      emit: async (p: { n: number }, ctx: HandlerContext) => ctx.appendFeed('events', { n: p.n }),
      fail: async (_p: unknown, ctx: HandlerContext) => {
        await ctx.appendFeed('events', { n: -1 });
        throw new Error('rolled back');
      },
    };
    // The alternatives to the append waking the poll are far away: the waiting poll re-reads the
    // table only every 25 s and gives up after its 25 s waitMs (the node's cap), so only the
    // wake-up can answer it within 20 s, however loaded the machine. How soon is a speed claim
    // for a benchmark (bench/ has no feed row yet).
    const FAR_MS = 25_000;
    const { url, node } = await startNode(f, 'alpha', { handlers, feeds: { pollIntervalMs: FAR_MS } });
    await until(() => node.status === 'active');
    const t0 = Date.now();
    const poll = rpc(url, 'hotcold.feed', { feed: 'events', after: 0, waitMs: FAR_MS });
    await sleep(100);
    await rpc(url, 'emit', { n: 1 });
    const first = await poll;
    expect(Date.now() - t0).toBeLessThan(20_000);
    expect(first.body.result).toEqual({ items: [{ seq: 1, data: { n: 1 } }], last: 1 });
    await rpc(url, 'fail');
    const seqs = await Promise.all(Array.from({ length: 20 }, (_, i) => rpc(url, 'emit', { n: i + 2 }).then((r) => r.body.result as number)));
    expect([...seqs].sort((x, y) => x - y)).toEqual(Array.from({ length: 20 }, (_, i) => i + 2));
    const page = await rpc(url, 'hotcold.feed', { feed: 'events', after: 5, max: 3 });
    expect(page.body.result.items.map((i: FeedItem) => i.seq)).toEqual([6, 7, 8]);
    expect(page.body.result.last).toBe(8);
    const empty = await rpc(url, 'hotcold.feed', { feed: 'events', after: 21, waitMs: 100 });
    expect(empty.body.result).toEqual({ items: [], last: 21 });
    expect((await rpc(url, 'hotcold.feed', { feed: '', after: 0 })).body.error.code).toBe(-32602);
    expect((await rpc(url, 'hotcold.feed', { feed: 'x', after: -1 })).body.error.code).toBe(-32602);
  });

  it('client.feed resumes on the new node after failover with no gap and no duplicate', async () => {
    f = fixture();
    const { a, b } = await ledgerPair(1000);
    client = newClient(balancer!.url);
    const seen: FeedItem<{ ref: string }>[] = [];
    const sub = client.feed<{ ref: string }>('ledger', { waitMs: 500, max: 7 }).subscribe({ next: (item) => seen.push(item) });
    let n = 0;
    const produce = async (count: number) => {
      for (let i = 0; i < count; i += 1) await client!.call('transfer', { from: 'x', to: 'y', amount: 1, ref: `r${n++}` });
    };
    await produce(30);
    await until(() => seen.length >= 30, 10_000, 'first 30 items');
    // Abrupt: the hot node stops without draining (calls in flight are rolled back, answered 503).
    const producing = produce(30);
    await sleep(50);
    await a.node.close();
    await producing;
    await until(() => b.node.status === 'active', 10_000, 'beta active');
    await produce(10);
    await until(() => seen.length >= 70, 15_000, 'all 70 items');
    await sleep(300);
    sub.unsubscribe();
    expect(seen.map((i) => i.seq)).toEqual(Array.from({ length: 70 }, (_, i) => i + 1));
    expect(seen.map((i) => i.data.ref)).toEqual(Array.from({ length: 70 }, (_, i) => `r${i}`));
  });

  it('an unsubscribed feed leaves no timer or socket behind', async () => {
    f = fixture();
    const { url, node } = await startNode(f, 'alpha', { handlers: {} });
    await until(() => node.status === 'active');
    const c = newClient(url);
    const baseline = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const sub = c.feed('quiet', { waitMs: 200 }).subscribe();
    await sleep(500);
    sub.unsubscribe();
    await c.close();
    await node.close();
    await sleep(100);
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBeLessThanOrEqual(baseline);
  });
});
