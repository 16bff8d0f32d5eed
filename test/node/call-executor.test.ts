/**
 * Call execution without a server: a real SQLite store and lease, the executor alone, and a
 * manual clock for the caller's deadline (no real-time sleeps for the timing under test).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createLease, releaseLeaseHolder, sqliteStore, type Lease, type LeaseStore } from 'hotcold/lease';
import { FencingError, LeaseError } from '../../src/lease/errors.js';
import { CallExecutor } from '../../src/node/call-executor.js';
import { DedupStore, dedupDdl } from '../../src/node/dedup-store.js';
import { RpcError } from '../../src/node/rpc-error.js';
import { Slots } from '../../src/node/slots.js';
import type { HandlerContext, NodeEvent } from '../../src/node/types.js';
import { ManualClock } from './manual-clock.js';

let cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const fn of cleanup.reverse()) await fn();
  cleanup = [];
});

/** The store's COMMIT fails with `commitError` (the transaction is really rolled back). */
function failingCommit(store: LeaseStore, commitError: () => Error): LeaseStore {
  const transaction = <T>(fn: (tx: Parameters<Parameters<LeaseStore['transaction']>[0]>[0]) => Promise<T>): Promise<T> =>
    store.transaction(async (tx) => {
      await fn(tx);
      throw commitError();
    });
  return new Proxy(store, { get: (target, prop) => (prop === 'transaction' ? transaction : Reflect.get(target, prop)) });
}

async function setup(limit = Number.POSITIVE_INFINITY, commitError?: () => Error) {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-exec-'));
  const store: LeaseStore = sqliteStore(join(dir, 'x.db'));
  const lease: Lease = createLease({ store, machineName: 'unit', updateInterval: 500, waitInterval: 5000 });
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }), () => store.close(), () => lease.close());
  const held = await lease.acquire();
  const dedup = new DedupStore('sqlite', 'hotcold_idempotency');
  for (const sql of dedupDdl('sqlite', 'hotcold_idempotency')) await store.transaction((tx) => tx.execute(sql));
  await store.transaction((tx) => tx.execute('CREATE TABLE rows (k TEXT)'));
  const clock = new ManualClock();
  const events: NodeEvent[] = [];
  const leaseView = commitError ? new Proxy(lease, { get: (target, prop) => (prop === 'store' ? failingCommit(store, commitError) : Reflect.get(target, prop)) }) : lease;
  const executor = new CallExecutor({ lease: leaseView, dedup, feeds: undefined, slots: new Slots(limit), clock, emit: (e) => events.push(e), onCommittedAppends: () => {} });
  const rows = async (): Promise<number> => Number((await store.transaction((tx) => tx.query('SELECT COUNT(*) AS c FROM rows')))[0]?.c);
  const records = async (key: string): Promise<number> =>
    Number((await store.transaction((tx) => tx.query('SELECT COUNT(*) AS c FROM hotcold_idempotency WHERE idem_key = ?', [key])))[0]?.c);
  const call = (handler: (p: never, ctx: HandlerContext) => unknown, extra: { key?: string; deadline?: number } = {}) =>
    executor.execute({ method: 'm', params: {}, key: extra.key, caller: 'c', handler, held, deadline: extra.deadline });
  return { store, lease, held, clock, events, executor, rows, records, call };
}

const insert = async (_p: never, ctx: HandlerContext) => {
  await ctx.tx.execute("INSERT INTO rows (k) VALUES ('x')");
  return 'ok';
};

describe('CallExecutor', () => {
  it('commits and answers the result; a duplicate key answers the stored result without running', async () => {
    const s = await setup();
    expect(await s.call(insert, { key: 'k1' }).outcome).toEqual({ kind: 'result', result: 'ok' });
    let ran = 0;
    expect(await s.call(() => ++ran, { key: 'k1' }).outcome).toEqual({ kind: 'stored', result: 'ok' });
    expect(ran).toBe(0);
    expect(await s.rows()).toBe(1);
  });

  it("a call that cannot get a slot before the caller's deadline is EXPIRED and never runs", async () => {
    const s = await setup(1);
    let release!: () => void;
    const first = s.call(() => new Promise((r) => (release = () => r('first'))));
    while (release === undefined) await new Promise((r) => setImmediate(r));
    let ran = 0;
    const second = s.call(
      () => {
        ran += 1;
        return 'second';
      },
      { deadline: s.clock.now() + 100 },
    );
    s.clock.advance(99);
    await Promise.resolve();
    s.clock.advance(1);
    expect(await second.outcome).toMatchObject({ kind: 'not-executed', error: 'EXPIRED' });
    release();
    expect(await first.outcome).toEqual({ kind: 'result', result: 'first' });
    await second.settled;
    expect(ran).toBe(0);
  });

  it('a deadline that passes while the handler runs answers EXPIRED at once; the transaction rolls back', async () => {
    const s = await setup();
    let finish!: () => void;
    let started = false;
    const exec = s.call(
      async (_p: never, ctx: HandlerContext) => {
        await ctx.tx.execute("INSERT INTO rows (k) VALUES ('x')");
        started = true;
        await new Promise<void>((r) => (finish = r));
        return 'late';
      },
      { key: 'k2', deadline: s.clock.now() + 50 },
    );
    while (!started) await new Promise((r) => setImmediate(r));
    s.clock.advance(50);
    expect(await exec.outcome).toMatchObject({ kind: 'not-executed', error: 'EXPIRED' });
    finish();
    await exec.settled;
    expect(await s.rows()).toBe(0);
    expect(await s.records('k2')).toBe(0);
  });

  it("infrastructure failures inside the handler are NOT_EXECUTED; only the handler's own errors are JSON-RPC errors", async () => {
    const s = await setup();
    class StoreBusyError extends LeaseError {}
    const failing = [
      new StoreBusyError('database is locked'),
      new FencingError('fenced', 'hotcold', 1, 2),
      Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
    ];
    for (const error of failing) {
      const outcome = await s.call(async (_p: never, ctx: HandlerContext) => {
        await ctx.tx.execute("INSERT INTO rows (k) VALUES ('x')");
        throw error;
      }).outcome;
      expect({ error: error.message, outcome }).toMatchObject({ error: error.message, outcome: { kind: 'not-executed', error: 'NOT_EXECUTED' } });
    }
    expect(await s.call(() => Promise.reject(new RpcError(42, 'no funds', { need: 3 }))).outcome).toEqual({ kind: 'rpc-error', code: 42, message: 'no funds', data: { need: 3 } });
    expect(await s.call(() => Promise.reject(new Error('bug'))).outcome).toEqual({ kind: 'rpc-error', code: -32603, message: 'internal error' });
    // A statement error that is the application's own (bad SQL) stays the application's.
    expect(await s.call((_p: never, ctx: HandlerContext) => ctx.tx.execute('SELEC nonsense')).outcome).toMatchObject({ kind: 'rpc-error', code: -32603 });
    expect(await s.rows()).toBe(0);
    expect(s.events.filter((e) => e.type === 'rolled-back')).toHaveLength(3);
  });

  it('stop() answers a running call NOT_EXECUTED at once; the lease lost before commit does the same', async () => {
    const s = await setup();
    let finish!: () => void;
    const exec = s.call(async (_p: never, ctx: HandlerContext) => {
      await ctx.tx.execute("INSERT INTO rows (k) VALUES ('x')");
      await new Promise<void>((r) => (finish = r));
      return 'late';
    });
    while (finish === undefined) await new Promise((r) => setImmediate(r));
    exec.stop('node stopped');
    expect(await exec.outcome).toMatchObject({ kind: 'not-executed', error: 'NOT_EXECUTED' });
    finish();
    await exec.settled;
    let finish2!: () => void;
    const exec2 = s.call(async (_p: never, ctx: HandlerContext) => {
      await ctx.tx.execute("INSERT INTO rows (k) VALUES ('x')");
      await new Promise<void>((r) => (finish2 = r));
      return 'late';
    });
    while (finish2 === undefined) await new Promise((r) => setImmediate(r));
    await s.lease.release();
    expect(await exec2.outcome).toMatchObject({ kind: 'not-executed', error: 'NOT_EXECUTED' });
    finish2();
    await exec2.settled;
    expect(await s.rows()).toBe(0);
  });
});

describe('CallExecutor at COMMIT', () => {
  it('a COMMIT that fails without certainty is COMMIT_UNKNOWN; one the store certifies as not committed is NOT_EXECUTED', async () => {
    const unknown = await setup(Number.POSITIVE_INFINITY, () => Object.assign(new Error('Connection terminated unexpectedly'), {}));
    expect(await unknown.call(insert, { key: 'c1' }).outcome).toMatchObject({ kind: 'commit-unknown' });
    class TransientStore extends LeaseError {
      readonly committed = false;
    }
    const certain = await setup(Number.POSITIVE_INFINITY, () => new TransientStore('database is locked at COMMIT'));
    expect(await certain.call(insert, { key: 'c2' }).outcome).toMatchObject({ kind: 'not-executed', error: 'NOT_EXECUTED' });
    expect(await certain.rows()).toBe(0);
  });
});

describe('CallExecutor fencing', () => {
  it('a fence refused by the database (another holder took over) is NOT_EXECUTED, recognised by class', async () => {
    const s = await setup();
    // An operator clears the holder in the database; locally the lease still looks valid until
    // its next renewal, so only the fence can tell.
    await releaseLeaseHolder(s.store, s.lease.name);
    let ran = 0;
    const outcome = await s.call(() => ++ran).outcome;
    expect(outcome).toMatchObject({ kind: 'not-executed', error: 'NOT_EXECUTED' });
    expect((outcome as { reason: string }).reason).toMatch(/FencingError|lost/);
    expect(ran).toBe(0);
  });
});
