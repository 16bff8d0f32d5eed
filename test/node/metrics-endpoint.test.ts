/**
 * The Prometheus endpoint (`createNode({ metrics })`, `hotcold node --metrics-port`): real
 * listeners scraped over HTTP, a real `hotcold node` child process on PostgreSQL with a password
 * in its URL, a port already in use, and the listener closed by `close()`.
 */
import { createServer, type Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createNode } from 'hotcold/node';
import { createLease, sqliteStore, storeFromUrl } from 'hotcold/lease';
import { fixture, rpc, uniq, until, type Fixture } from './support.js';
import { spawnNode, type NodeProcess } from './child.js';
import { databaseAvailable } from '../support/services.js';

let f: Fixture | undefined;
const children: NodeProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  await f?.cleanup();
  f = undefined;
});

/** The metric families (`# TYPE name kind`) of a Prometheus text exposition. */
function families(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) out.set(match[1] as string, match[2] as string);
  return out;
}

const LEASE_FAMILIES = {
  hotcold_lease_state: 'gauge',
  hotcold_lease_token: 'gauge',
  hotcold_lease_deadline_remaining: 'gauge',
  hotcold_lease_renewal_duration: 'histogram',
  hotcold_lease_renewal_failures_total: 'counter',
  hotcold_lease_takeovers_total: 'counter',
  hotcold_lease_lost_total: 'counter',
};
const NODE_FAMILIES = {
  hotcold_node_status: 'gauge',
  hotcold_node_calls_total: 'counter',
  rpc_server_call_duration: 'histogram',
  hotcold_node_transaction_slot_wait_duration: 'histogram',
  hotcold_node_dedup_hits_total: 'counter',
};

async function scrape(url: string): Promise<{ status: number; type: string | null; text: string }> {
  const res = await fetch(url);
  return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
}

describe('Prometheus endpoint (createNode metrics option)', () => {
  it('serves the node and lease instruments at /metrics on its own listener, which close() closes', async () => {
    f = fixture();
    const store = sqliteStore(f.dbPath);
    f.stores.push(store);
    const lease = createLease({ store, machineName: 'alpha', updateInterval: 100, waitInterval: 2_000, mode: 'warm' });
    f.leases.push(lease);
    const node = createNode({ lease, port: 0, handlers: { ping: () => 'pong' }, metrics: { port: 0 } });
    f.nodes.push(node);
    expect(node.metricsAddress).toBeUndefined();
    const address = await node.start();
    const metricsAt = node.metricsAddress;
    expect(metricsAt).toBeDefined();
    expect(metricsAt?.port).not.toBe(address.port);
    await until(() => node.status === 'active', 20_000, 'active');
    expect((await rpc(address.url, 'ping', undefined, { 'idempotency-key': 'k' })).body.result).toBe('pong');
    expect((await rpc(address.url, 'ping', undefined, { 'idempotency-key': 'k' })).body.result).toBe('pong');
    // A histogram appears with its first value: wait for the first renewal after the acquisition.
    await until(async () => families((await scrape(`${metricsAt?.url}/metrics`)).text).has('hotcold_lease_renewal_duration'), 20_000, 'a renewal');

    const { status, type, text } = await scrape(`${metricsAt?.url}/metrics`);
    expect(status).toBe(200);
    expect(type).toMatch(/^text\/plain/);
    const found = families(text);
    for (const [name, kind] of Object.entries({ ...LEASE_FAMILIES, ...NODE_FAMILIES })) expect(found.get(name), name).toBe(kind);
    expect(text).toMatch(/^hotcold_node_calls_total\{[^}]*rpc_method="ping"[^}]*hotcold_outcome="ok"[^}]*\} 1$/m);
    expect(text).toMatch(/^hotcold_node_dedup_hits_total\{[^}]*hotcold_dedup_result="replayed"[^}]*\} 1$/m);
    expect(text).toMatch(/^hotcold_lease_state\{[^}]*hotcold_lease_state="active"[^}]*\} 1$/m);
    expect(text).toMatch(/^hotcold_node_status\{[^}]*hotcold_node_status="active"[^}]*\} 1$/m);
    expect(text).not.toContain(f.dbPath);
    // Only /metrics: the RPC endpoint is not served here, nor /metrics there.
    expect((await fetch(`${metricsAt?.url}/rpc`, { method: 'POST', body: '{}' })).status).toBe(404);
    expect((await fetch(`${address.url}/metrics`)).status).toBe(404);

    await node.close();
    expect(node.metricsAddress).toBeUndefined();
    await expect(fetch(`${metricsAt?.url}/metrics`)).rejects.toThrow();
  });

  it('a port in use fails start() with a ConfigurationError naming metrics.port, and leaves nothing listening', async () => {
    f = fixture();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const taken = (blocker.address() as AddressInfo).port;
    try {
      const store = sqliteStore(f.dbPath);
      f.stores.push(store);
      const lease = createLease({ store, machineName: 'alpha' });
      f.leases.push(lease);
      const node = createNode({ lease, port: 0, handlers: {}, metrics: { port: taken } });
      f.nodes.push(node);
      const error = await node.start().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe('metrics.port');
      expect((error as Error).message).toMatch(/in use/);
      expect(node.address).toBeUndefined();
      expect(node.metricsAddress).toBeUndefined();
      await node.close();
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  });
});

const pgUp = await databaseAvailable('postgres');

describe.runIf(pgUp)('hotcold node --metrics-port (child process on PostgreSQL, a password in the URL)', () => {
  const tables: string[] = [];
  afterAll(async () => {
    const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
    await client.connect();
    for (const table of tables) await client.query(`DROP TABLE IF EXISTS ${table}`);
    await client.end();
  });

  it('serves the lease and node metrics; no credential appears in the scrape', async () => {
    f = fixture();
    const id = uniq();
    const names = { table: `${id}_lease`, prefix: `${id}_ledger`, dedup: `${id}_idem`, feed: `${id}_feed` };
    tables.push(names.table, `${names.prefix}_entries`, `${names.prefix}_accounts`, names.dedup, names.feed, `${names.feed}_seq`);
    const secret = 's3cret';
    const db = `postgres://postgres:${secret}@127.0.0.1:5432/test`;
    const child = await spawnNode([
      '--db', db, '--machine', 'alpha', '--table', names.table, '--lease-name', id, '--prefix', names.prefix,
      '--dedup-table', names.dedup, '--feed-table', names.feed, '--update-interval', '200', '--wait-interval', '5000',
      '--metrics-port', '0',
    ]);
    children.push(child);
    const listening = child.lines.find((l) => l.event === 'listening') as Record<string, unknown>;
    expect(typeof listening.metricsPort).toBe('number');
    expect(listening.metricsUrl).toBe(`http://127.0.0.1:${String(listening.metricsPort)}/metrics`);
    await child.waitFor((l) => l.event === 'node' && l.status === 'active', 20_000, 'active');
    expect((await rpc(child.url, 'ping', undefined, { 'idempotency-key': 'k' })).status).toBe(200);
    expect((await rpc(child.url, 'ping', undefined, { 'idempotency-key': 'k' })).status).toBe(200);

    // A histogram appears with its first value: wait for the first renewal after the acquisition.
    let text = '';
    await until(async () => {
      const scraped = await scrape(listening.metricsUrl as string);
      expect(scraped.status).toBe(200);
      text = scraped.text;
      return families(text).has('hotcold_lease_renewal_duration');
    }, 20_000, 'a renewal in the scrape');
    const found = families(text);
    for (const [name, kind] of Object.entries({ ...LEASE_FAMILIES, ...NODE_FAMILIES })) expect(found.get(name), name).toBe(kind);
    expect(text).toMatch(/^hotcold_node_calls_total\{[^}]*rpc_method="ping"[^}]*hotcold_outcome="ok"[^}]*\} 1$/m);
    expect(text).toContain(`hotcold_lease_name="${id}"`);
    expect(text).not.toContain(secret);
    expect(text).not.toContain('postgres://');
    expect(text).not.toContain('127.0.0.1:5432');

    child.child.kill('SIGTERM');
    expect((await child.exited).code).toBe(0);
    await expect(fetch(listening.metricsUrl as string)).rejects.toThrow();
    // One node child through tsx (spawnNode's 60 s bound under load) before the checks.
  }, 90_000);

  // Four `hotcold node` processes started through tsx, one after another: each takes seconds to
  // start on a loaded machine (5-6 s in a double run, where the 30 s default ran out).
  it('rejects a bad --metrics-port naming the flag, and a metrics port in use naming metrics.port', async () => {
    f = fixture();
    await expect(spawnNode(['--db', f.dbPath, '--metrics-port', 'x'])).rejects.toThrow(/--metrics-port/);
    await expect(spawnNode(['--db', f.dbPath, '--metrics-port', '70000'])).rejects.toThrow(/--metrics-port/);
    await expect(spawnNode(['--db', f.dbPath, '--metrics-host', '0.0.0.0'])).rejects.toThrow(/--metrics-host/);
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    try {
      const taken = String((blocker.address() as AddressInfo).port);
      await expect(spawnNode(['--db', f.dbPath, '--metrics-port', taken])).rejects.toThrow(/metrics\.port.*already in use/);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, 300_000);
});

// A storeFromUrl with a password, in-process: the scrape carries neither the password nor the URL.
describe.runIf(pgUp)('no credential in the scrape (in-process, storeFromUrl with a password)', () => {
  it('names the lease and holder only', async () => {
    f = fixture();
    const id = uniq();
    const store = storeFromUrl('postgres://postgres:s3cret@127.0.0.1:5432/test', { table: `${id}_lease` });
    f.stores.push(store);
    const lease = createLease({ store, name: id, machineName: 'alpha', updateInterval: 100, waitInterval: 2_000, mode: 'warm' });
    f.leases.push(lease);
    const node = createNode({ lease, port: 0, handlers: {}, dedup: { table: `${id}_idem` }, feeds: { table: `${id}_feed` }, metrics: { port: 0 } });
    f.nodes.push(node);
    try {
      await node.start();
      await until(() => node.status === 'active', 20_000, 'active');
      const { text } = await scrape(`${node.metricsAddress?.url}/metrics`);
      expect(text).toContain(`hotcold_lease_name="${id}"`);
      expect(text).not.toContain('s3cret');
      expect(text).not.toContain('postgres://');
    } finally {
      await node.close();
      await lease.close();
      const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/test' });
      await client.connect();
      for (const t of [`${id}_lease`, `${id}_idem`, `${id}_feed`, `${id}_feed_seq`]) await client.query(`DROP TABLE IF EXISTS ${t}`);
      await client.end();
    }
  });
});
