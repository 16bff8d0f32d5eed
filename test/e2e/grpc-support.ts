/**
 * The gRPC failover rig: two reference gRPC ledger nodes (test/e2e/grpc-ledger-child.ts) as child
 * processes on one SQLite lease file, real HAProxy from examples/haproxy/haproxy-grpc.cfg in
 * front, and a load of keyed, non-idempotent transfers through grpcInterceptor whose every
 * outcome is recorded for the ledger check.
 */
import * as grpc from '@grpc/grpc-js';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnManaged, type ManagedChild } from '../../src/cli/demo/child.js';
import { findHaproxy, startHaproxy, type RunningHaproxy } from '../../src/cli/demo/haproxy.js';
import { grpcHealthProbe, grpcInterceptor, rpcExceptionOf, type GrpcInterceptor } from '../../src/grpc/index.js';
import { sqliteStore } from '../../src/lease/index.js';
import { ledgerGrpcService, readLedger, type GrpcTransferReply, type GrpcTransferRequest } from '../../src/testing/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
export const GRPC_HAPROXY_CONFIG = path.join(root, 'examples/haproxy/haproxy-grpc.cfg');

export const LedgerClient = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
export type LedgerClientInstance = InstanceType<typeof LedgerClient>;

/** HAProxy's binary, or undefined; with CI=true a missing one is a failure. */
export function haproxyOrFail(): string | undefined {
  const binary = findHaproxy();
  if (!binary && process.env.CI === 'true') throw new Error('HAProxy is required in CI (CI=true) but is not installed');
  return binary;
}

export interface LedgerNodeProcess {
  name: string;
  port: number;
  child: ManagedChild;
  /** Resolves when this node holds the lease. */
  acquired: Promise<void>;
}

export async function spawnLedgerNode(file: string, name: string, port = 0): Promise<LedgerNodeProcess> {
  const child = spawnManaged(`grpc-node-${name}`, process.execPath, ['--import', 'tsx', 'test/e2e/grpc-ledger-child.ts', file, name, String(port)], {
    cwd: root,
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  const parse = (line: string): Record<string, unknown> | undefined => {
    try {
      return JSON.parse(line) as Record<string, unknown>;
    } catch {
      return undefined;
    }
  };
  const acquired = child.waitForLine((line) => (parse(line)?.event === 'acquired' ? true : undefined), 120_000).then(() => undefined);
  acquired.catch(() => undefined);
  const bound = await child.waitForLine((line) => {
    const l = parse(line);
    return l?.event === 'listening' ? (l.port as number) : undefined;
  }, 60_000);
  return { name, port: bound, child, acquired };
}

export interface Rig {
  dir: string;
  file: string;
  a: LedgerNodeProcess;
  b: LedgerNodeProcess;
  haproxy: RunningHaproxy;
  close(): Promise<void>;
}

export async function startRig(): Promise<Rig> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-grpc-e2e-'));
  const file = path.join(dir, 'ledger.sqlite');
  const a = await spawnLedgerNode(file, 'a');
  await a.acquired;
  const b = await spawnLedgerNode(file, 'b');
  const haproxy = await startHaproxy({ template: GRPC_HAPROXY_CONFIG, backends: [{ name: 'node-a', port: a.port }, { name: 'node-b', port: b.port }] });
  const rig: Rig = {
    dir,
    file,
    a,
    b,
    haproxy,
    async close() {
      await haproxy.stop();
      await Promise.all([rig.a.child.stop(), rig.b.child.stop()]);
      await rm(dir, { recursive: true, force: true });
    },
  };
  return rig;
}

export function clientThrough(address: string): { client: LedgerClientInstance; interceptor: GrpcInterceptor; disruptions: () => number } {
  let client: LedgerClientInstance | undefined;
  const interceptor = grpcInterceptor({
    retry: { maxAttempts: 40, minDelayMs: 20, maxDelayMs: 250 },
    budget: false,
    timeoutMs: 3000,
    deadlineMs: 30_000,
    reconnect: { minDelayMs: 25, maxDelayMs: 200, probeTimeoutMs: 1000 },
    maxReconnectAttempts: 400,
    // The reference node deduplicates by idempotency-key in the shared database: a keyed
    // transfer that may have run is safe to send again.
    serverDeduplicates: true,
    methods: { '/hotcold.testing.Ledger/Transfer': { idempotent: false } },
    probe: grpcHealthProbe(() => client as LedgerClientInstance),
  });
  client = new LedgerClient(`127.0.0.1:${address.replace(/^.*:/, '')}`, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
  // Attempts that failed (retried) or outages seen: evidence that the fault did reach the calls.
  let disruptions = 0;
  interceptor.policy.events$.subscribe((e) => {
    if (e.type === 'retry' || e.type === 'disconnected') disruptions++;
  });
  return { client, interceptor, disruptions: () => disruptions };
}

export interface Outcome {
  ref: string;
  ok: boolean;
  node?: string | undefined;
  /** The fencing token the transfer was written under. */
  token?: number | undefined;
  mayHaveExecuted?: boolean | undefined;
  error?: string | undefined;
}

export function transfer(client: LedgerClientInstance, request: GrpcTransferRequest): Promise<Outcome> {
  return new Promise((resolve) => {
    const call = client as unknown as {
      transfer(r: GrpcTransferRequest, cb: (e: grpc.ServiceError | null, v?: GrpcTransferReply) => void): grpc.ClientUnaryCall;
    };
    const metadataSeen: { node?: string } = {};
    const c = call.transfer(request, (error, reply) => {
      if (error === null) resolve({ ref: request.ref, ok: reply !== undefined, node: metadataSeen.node, token: reply?.token });
      else resolve({ ref: request.ref, ok: false, mayHaveExecuted: rpcExceptionOf(error)?.mayHaveExecuted ?? true, error: `${error.code} ${error.details}` });
    });
    c.on('metadata', (md: grpc.Metadata) => {
      const n = md.get('x-hotcold-node')[0];
      if (typeof n === 'string') metadataSeen.node = n;
    });
  });
}

/** `callers` loops of transfers until `stop()`; every outcome recorded. */
export function runLoad(client: LedgerClientInstance, callers: number, tag: string): { outcomes: Outcome[]; acked(node?: string): number; stop(): Promise<void> } {
  const outcomes: Outcome[] = [];
  let running = true;
  let n = 0;
  const loops = Array.from({ length: callers }, async (_, i) => {
    while (running) {
      const ref = `${tag}-${i}-${n++}`;
      outcomes.push(await transfer(client, { from: `acct-${i}`, to: 'pool', amount: 1, ref }));
    }
  });
  return {
    outcomes,
    acked: (node) => outcomes.filter((o) => o.ok && (node === undefined || o.node === node)).length,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** 0 lost, 0 duplicated: every acknowledged ref once, none twice, every "not executed" absent. */
export async function checkLedger(file: string, outcomes: readonly Outcome[]): Promise<{ rows: number; acked: number; notExecuted: number; maybe: number }> {
  const store = sqliteStore(file);
  try {
    const rows = await readLedger(store);
    const count = new Map<string, number>();
    for (const row of rows) count.set(row.ref, (count.get(row.ref) ?? 0) + 1);
    const problems: string[] = [];
    for (const [ref, c] of count) if (c > 1) problems.push(`${ref} executed ${c} times`);
    for (const o of outcomes) {
      if (o.ok && count.get(o.ref) !== 1) problems.push(`${o.ref} acknowledged but in the ledger ${count.get(o.ref) ?? 0} times`);
      if (!o.ok && o.mayHaveExecuted === false && count.has(o.ref)) problems.push(`${o.ref} said "not executed" (${o.error}) but ran`);
    }
    if (problems.length > 0) throw new Error(`ledger check failed:\n${problems.slice(0, 20).join('\n')}`);
    return {
      rows: rows.length,
      acked: outcomes.filter((o) => o.ok).length,
      notExecuted: outcomes.filter((o) => !o.ok && o.mayHaveExecuted === false).length,
      maybe: outcomes.filter((o) => !o.ok && o.mayHaveExecuted !== false).length,
    };
  } finally {
    await store.close();
  }
}

/**
 * Whether another process holds the ledger database's write lock for `forMs` on end (a node frozen
 * in the middle of a transfer's transaction): tries `BEGIN IMMEDIATE` (and rolls back) every 20 ms.
 */
export async function ledgerWriteLockHeld(file: string, forMs: number): Promise<boolean> {
  const { default: Database } = await import('better-sqlite3');
  const db = new Database(file, { timeout: 0 });
  try {
    const until = Date.now() + forMs;
    for (;;) {
      try {
        db.exec('BEGIN IMMEDIATE');
        db.exec('ROLLBACK');
        return false;
      } catch (error) {
        if ((error as { code?: string }).code !== 'SQLITE_BUSY') throw error;
      }
      if (Date.now() >= until) return true;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  } finally {
    db.close();
  }
}
