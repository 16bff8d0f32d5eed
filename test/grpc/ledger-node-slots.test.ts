/**
 * The gRPC reference node (`startGrpcLedgerNode`, hotcold/testing) runs every ledger transaction
 * in a transaction slot, as `createNode` does (docs/node.md "Transaction slots"): before, 400
 * concurrent transfers on PostgreSQL (2 ms away) queued 400 transactions for the store's pool,
 * the lease's renewal waited behind them and the hot node lost its lease (calls answered
 * "not executed", then NOT_ACTIVE). Real grpc-js, a real PostgreSQL behind a latency proxy.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { createLease, postgresStore, type LeaseEvent } from 'hotcold/lease';
import { ledgerGrpcService, startGrpcLedgerNode } from 'hotcold/testing';
import { ConfigurationError } from '../../src/errors.js';
import { startLatencyProxy } from '../support/latency-proxy.js';
import { databaseAvailable, PG_URL } from '../support/services.js';

const closers: Array<() => Promise<unknown> | void> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

interface LedgerClient {
  transfer(request: unknown, callback: (error: grpc.ServiceError | null, value: unknown) => void): void;
  close(): void;
}

describe.runIf(await databaseAvailable('postgres'))('the gRPC ledger node takes transaction slots (PostgreSQL)', () => {
  it('400 concurrent transfers for 4 s: the node keeps its lease and executes every call', async () => {
    const proxy = await startLatencyProxy(Number(new URL(PG_URL).port || 5432), 2);
    closers.push(() => proxy.close());
    const url = new URL(PG_URL);
    url.port = String(proxy.port);
    const id = Math.random().toString(36).slice(2, 8);
    const store = postgresStore(url.toString(), { table: `l_gslot_${id}` });
    closers.push(() => store.close());
    const lease = createLease({ store, machineName: 'hot', updateInterval: 200, waitInterval: 1500, mode: 'warm' });
    closers.push(() => lease.close());
    const losses: LeaseEvent[] = [];
    const sub = lease.events$.subscribe((e) => {
      if (e.type === 'lost') losses.push(e);
    });
    closers.push(() => sub.unsubscribe());
    const node = await startGrpcLedgerNode({ lease, prefix: `lg_${id}` });
    closers.push(() => node.stop());
    const Ledger = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
    const client = new Ledger(node.address, grpc.credentials.createInsecure()) as unknown as LedgerClient;
    closers.push(() => client.close());
    while (lease.current === undefined) await new Promise((r) => setTimeout(r, 20));

    const answers = new Map<string, number>();
    let n = 0;
    const until = Date.now() + 4000;
    const worker = async (): Promise<void> => {
      while (Date.now() < until) {
        const answer = await new Promise<string>((resolve) =>
          client.transfer({ from: 'a', to: 'b', amount: 1, ref: `r${n++}` }, (error) => resolve(error ? `${error.code}: ${error.details}` : 'ok')),
        );
        answers.set(answer, (answers.get(answer) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: 400 }, worker));
    expect(losses).toEqual([]);
    expect([...answers.keys()]).toEqual(['ok']);
  }, 60_000);
});

describe.runIf(await databaseAvailable('postgres'))("a transfer waiting for a slot when its caller is gone never runs (PostgreSQL)", () => {
  it('the caller\'s deadline passes while the transfer waits for the only slot: it is not executed', async () => {
    const id = Math.random().toString(36).slice(2, 8);
    const prefix = `lgc_${id}`;
    const store = postgresStore(PG_URL, { table: `l_gcan_${id}` });
    closers.push(() => store.close());
    const locker = postgresStore(PG_URL, { table: `l_gcan_${id}` });
    closers.push(() => locker.close());
    const lease = createLease({ store, machineName: 'hot', updateInterval: 200, waitInterval: 1500, mode: 'warm' });
    closers.push(() => lease.close());
    const node = await startGrpcLedgerNode({ lease, prefix, maxConcurrentTransactions: 1 });
    closers.push(() => node.stop());
    const Ledger = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
    const client = new Ledger(node.address, grpc.credentials.createInsecure()) as unknown as LedgerClient & {
      transfer(request: unknown, metadata: grpc.Metadata, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, value: unknown) => void): void;
    };
    closers.push(() => client.close());
    while (lease.current === undefined) await new Promise((r) => setTimeout(r, 20));
    const transfer = (ref: string, options: grpc.CallOptions = {}): Promise<string> =>
      new Promise((resolve) => client.transfer({ from: 'a', to: 'b', amount: 1, ref }, new grpc.Metadata(), options, (error) => resolve(error ? `${error.code}` : 'ok')));
    expect(await transfer('r0')).toBe('ok');

    // Another session locks account a: transfer r1 blocks in its transaction, holding the only slot.
    let unlock!: () => void;
    const unlocked = new Promise<void>((r) => (unlock = r));
    let locked!: () => void;
    const isLocked = new Promise<void>((r) => (locked = r));
    const holding = locker.transaction(async (tx) => {
      await tx.query(`SELECT balance FROM ${prefix}_accounts WHERE account = 'a' FOR UPDATE`);
      locked();
      await unlocked;
    });
    await isLocked;
    const r1 = transfer('r1');
    await new Promise((r) => setTimeout(r, 300));
    // r2 queues for the slot; its caller's deadline passes while it waits.
    expect(await transfer('r2', { deadline: Date.now() + 300 })).toBe(String(grpc.status.DEADLINE_EXCEEDED));
    unlock();
    await holding;
    expect(await r1).toBe('ok');
    // Whatever was still queued has had its turn once a later transfer is answered.
    expect(await transfer('r3')).toBe('ok');
    const refs = (await store.transaction((tx) => tx.query(`SELECT ref FROM ${prefix}_entries ORDER BY id`))).map((row) => row.ref);
    expect(refs).toEqual(['r0', 'r1', 'r3']);
  }, 60_000);
});

describe('startGrpcLedgerNode maxConcurrentTransactions', () => {
  it.each([0, -1, 1.5, Number.NaN, '4'])('%s is a ConfigurationError naming maxConcurrentTransactions', async (value) => {
    const lease = { acquire: () => undefined, options: { machineName: 'a' }, store: {} } as unknown as Parameters<typeof startGrpcLedgerNode>[0]['lease'];
    const error = await startGrpcLedgerNode({ lease, maxConcurrentTransactions: value as number }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toContain('maxConcurrentTransactions');
  });
});
