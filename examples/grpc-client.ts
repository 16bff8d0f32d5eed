/**
 * hotcold/grpc, the basics — a @grpc/grpc-js client whose unary calls run under a hotcold policy,
 * against two reference gRPC ledger nodes that share one SQLite lease (no setup needed):
 *
 *   npx tsx examples/grpc-client.ts
 *
 * Sends keyed transfers (not idempotent; the node deduplicates by `idempotency-key`), hands the
 * lease over from node a to node b in the middle (a planned switchover), prints the failover and
 * the ledger check, then closes everything and exits. Without a balancer the client balances
 * itself (`round_robin` over both addresses): the standby's "NOT_ACTIVE, not executed" answers
 * are retried, so every call lands on the node that holds the lease. Behind HAProxy, use the
 * balancer's address instead (examples/haproxy/haproxy-grpc.cfg).
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { grpcHealthProbe, grpcInterceptor, rpcExceptionOf } from 'hotcold/grpc';
import { createLease, sqliteStore } from 'hotcold/lease';
import { ledgerGrpcService, readLedger, startGrpcLedgerNode, type GrpcTransferReply, type GrpcTransferRequest } from 'hotcold/testing';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hotcold-grpc-example-'));
const file = path.join(dir, 'ledger.sqlite');
const lease = (machineName: string) => createLease({ store: sqliteStore(file), machineName, mode: 'warm', updateInterval: 200, waitInterval: 1000 });
const leaseA = lease('a');
const nodeA = await startGrpcLedgerNode({ lease: leaseA });
await leaseA.acquire();
const leaseB = lease('b');
const nodeB = await startGrpcLedgerNode({ lease: leaseB });

const Ledger = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
// `prober` is created below, before any call can need a probe.
const interceptor = grpcInterceptor({
  retry: { maxAttempts: 20, minDelayMs: 20, maxDelayMs: 200 },
  reconnect: { minDelayMs: 20, maxDelayMs: 200 },
  timeoutMs: 2000,
  deadlineMs: 10_000,
  serverDeduplicates: true, // the nodes deduplicate by idempotency-key in the shared database
  methods: { '/hotcold.testing.Ledger/Transfer': { idempotent: false } },
  // Probed on a client of its own: a probe sharing the round_robin channel would take every other pick.
  probe: grpcHealthProbe(() => prober),
});
const target = `ipv4:${nodeA.address},${nodeB.address}`;
const roundRobin = { 'grpc.service_config': JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }) };
const client = new Ledger(target, grpc.credentials.createInsecure(), { interceptors: [interceptor], ...roundRobin });
const prober = new Ledger(target, grpc.credentials.createInsecure(), roundRobin);
interceptor.policy.failover$.subscribe((f) => console.log(`failover: ${f.from?.node}#${f.from?.epoch} → ${f.to.node}#${f.to.epoch}`));

function transfer(request: GrpcTransferRequest): Promise<GrpcTransferReply> {
  return new Promise((resolve, reject) =>
    (client as unknown as { transfer(r: GrpcTransferRequest, cb: (e: grpc.ServiceError | null, v?: GrpcTransferReply) => void): void }).transfer(
      request,
      (error, reply) => (error ? reject(error) : resolve(reply as GrpcTransferReply)),
    ),
  );
}

const acknowledged: string[] = [];
for (let i = 0; i < 20; i++) {
  if (i === 10) {
    console.log('node a hands the lease over (planned switchover)');
    await nodeA.release();
  }
  const ref = `t-${i}`;
  try {
    const reply = await transfer({ from: 'alice', to: 'bob', amount: 1, ref });
    acknowledged.push(ref);
    if (i % 5 === 0) console.log(`${ref}: row ${reply.id} under token ${reply.token}`);
  } catch (error) {
    const reason = rpcExceptionOf(error);
    console.log(`${ref} failed: ${reason?.kind} mayHaveExecuted=${reason?.mayHaveExecuted}`);
  }
}

const rows = await readLedger(leaseB.store);
const once = acknowledged.every((ref) => rows.filter((r) => r.ref === ref).length === 1);
console.log(`ledger: ${rows.length} rows, ${acknowledged.length} acknowledged, each exactly once: ${once}`);

client.close();
prober.close();
await interceptor.close();
await nodeA.stop();
await nodeB.stop();
await leaseA.close();
await leaseB.close();
rmSync(dir, { recursive: true, force: true });
console.log('closed');
