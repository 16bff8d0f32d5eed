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

describe('startGrpcLedgerNode maxConcurrentTransactions', () => {
  it.each([0, -1, 1.5, Number.NaN, '4'])('%s is a ConfigurationError naming maxConcurrentTransactions', async (value) => {
    const lease = { acquire: () => undefined, options: { machineName: 'a' }, store: {} } as unknown as Parameters<typeof startGrpcLedgerNode>[0]['lease'];
    const error = await startGrpcLedgerNode({ lease, maxConcurrentTransactions: value as number }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).message).toContain('maxConcurrentTransactions');
  });
});
