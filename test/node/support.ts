import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLease, sqliteStore, storeFromUrl } from 'hotcold/lease';
import type { Lease, LeaseStore } from 'hotcold/lease';
import { createNode, type HotcoldNode, type NodeOptions } from 'hotcold/node';

/** Real nodes on loopback over a real database, torn down by `cleanup()`. */
export interface Fixture {
  dir: string;
  dbPath: string;
  leases: Lease[];
  nodes: HotcoldNode[];
  stores: LeaseStore[];
  cleanup(): Promise<void>;
}

export function fixture(): Fixture {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-node-'));
  const f: Fixture = {
    dir,
    dbPath: join(dir, 'shared.db'),
    leases: [],
    nodes: [],
    stores: [],
    async cleanup() {
      for (const node of f.nodes) await node.close().catch(() => undefined);
      for (const lease of f.leases) await lease.close().catch(() => undefined);
      for (const store of f.stores) await store.close().catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return f;
}

export const uniq = (): string => `t${Date.now().toString(36)}${Math.floor(Math.random() * 1e6).toString(36)}`;

export interface NodeSetup {
  lease: Lease;
  node: HotcoldNode;
  url: string;
  store: LeaseStore;
}

export async function startNode(
  f: Fixture,
  machine: string,
  options: Partial<NodeOptions> & { db?: string; leaseTable?: string; updateInterval?: number; waitInterval?: number; mode?: 'warm' | 'cold' } = {},
): Promise<NodeSetup> {
  const { db, leaseTable, updateInterval, waitInterval, mode, ...nodeOptions } = options;
  const store = db === undefined ? sqliteStore(f.dbPath, leaseTable ? { table: leaseTable } : {}) : storeFromUrl(db, leaseTable ? { table: leaseTable } : {});
  f.stores.push(store);
  const lease = createLease({ store, machineName: machine, updateInterval: updateInterval ?? 200, waitInterval: waitInterval ?? 1000, mode: mode ?? 'warm' });
  f.leases.push(lease);
  const node = createNode({ lease, port: 0, handlers: {}, ...nodeOptions });
  f.nodes.push(node);
  const address = await node.start();
  return { lease, node, url: address.url, store };
}

export async function until(check: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

export interface RpcAnswer {
  status: number;
  headers: Headers;
  /** The answer's parsed JSON, as the server sent it: tests assert its shape with expect(). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
}

export async function rpc(
  url: string,
  method: string,
  params?: unknown,
  headers: Record<string, string> = {},
  id: number | string = 1,
): Promise<RpcAnswer> {
  const res = await fetch(`${url}/rpc`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) }),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* HTML from a balancer */
  }
  return { status: res.status, headers: res.headers, body };
}
