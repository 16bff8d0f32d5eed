/**
 * The REST reference node (hotcold/testing `createRestLedgerNode`): a pair on one SQLite file
 * under the lease engine. Only the holder serves; the standby answers 503 NOT_ACTIVE with the
 * node headers; a repeated Idempotency-Key returns the stored result (on the other node too,
 * after a planned handover); every answer carries X-Hotcold-Node/Epoch.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLease, sqliteStore, type Lease, type SqlLeaseStore } from 'hotcold/lease';
import { createRestLedgerNode, readLedger, type RestLedgerNode } from 'hotcold/testing';
import { until } from './helpers.js';

interface Member {
  store: SqlLeaseStore;
  lease: Lease;
  node: RestLedgerNode;
  url: string;
}

let dir: string;
let a: Member;
let b: Member;

async function member(machine: string): Promise<Member> {
  const store = sqliteStore(path.join(dir, 'ledger.db'));
  const lease = createLease({ store, machineName: machine, mode: 'warm', updateInterval: 200, waitInterval: 1000 });
  const node = createRestLedgerNode({ lease, port: 0, retryAfterSeconds: 0 });
  const { url } = await node.start();
  return { store, lease, node, url };
}

async function call(url: string, init: RequestInit & { json?: unknown } = {}): Promise<{ status: number; headers: Headers; body: unknown }> {
  const { json, ...rest } = init;
  const response = await fetch(url, {
    ...rest,
    ...(json === undefined ? {} : { body: JSON.stringify(json), headers: { 'content-type': 'application/json', ...(rest.headers as Record<string, string>) } }),
  });
  const text = await response.text();
  return { status: response.status, headers: response.headers, body: text === '' ? undefined : (JSON.parse(text) as unknown) };
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-rest-node-'));
  a = await member('node-a');
  await until(() => a.node.status === 'active', 10_000, 'node-a active');
  b = await member('node-b');
});

afterAll(async () => {
  for (const m of [a, b]) {
    await m?.node.close();
    await m?.lease.close();
    await m?.store.close();
  }
  await rm(dir, { recursive: true, force: true });
});

describe('REST ledger node pair on SQLite', () => {
  it('health: 200 active on the holder, 503 standby on the other, both with node headers', async () => {
    const ha = await call(`${a.url}/health`);
    const hb = await call(`${b.url}/health`);
    expect(ha.status).toBe(200);
    expect(ha.body).toMatchObject({ status: 'active', node: 'node-a' });
    expect(ha.headers.get('x-hotcold-node')).toBe('node-a');
    expect(hb.status).toBe(503);
    expect(hb.body).toMatchObject({ status: 'standby', node: 'node-b' });
  });

  it('the standby answers 503 NOT_ACTIVE with its headers and Retry-After, and executes nothing', async () => {
    const r = await call(`${b.url}/transfers`, { method: 'POST', json: { from: 'S', to: 'T', amount: 1, ref: 'standby-1' } });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'NOT_ACTIVE' });
    expect(r.headers.get('x-hotcold-node')).toBe('node-b');
    expect(r.headers.get('retry-after')).toBe('0');
    expect((await readLedger(a.store, 'rest_ledger')).filter((e) => e.ref === 'standby-1')).toHaveLength(0);
  });

  it('POST /transfers: 201; the same key again returns the stored entry; another body under it is 422', async () => {
    const body = { from: 'A', to: 'B', amount: 5, ref: 'r-1' };
    const first = await call(`${a.url}/transfers`, { method: 'POST', json: body, headers: { 'idempotency-key': 'key-1' } });
    expect(first.status).toBe(201);
    expect(first.headers.get('x-hotcold-dedup')).toBe('1');
    expect(first.headers.get('x-hotcold-epoch')).toMatch(/^\d+$/);
    const again = await call(`${a.url}/transfers`, { method: 'POST', json: body, headers: { 'idempotency-key': 'key-1' } });
    expect(again.status).toBe(201);
    expect(again.body).toEqual(first.body);
    expect(again.headers.get('idempotent-replayed')).toBe('true');
    const reused = await call(`${a.url}/transfers`, { method: 'POST', json: { ...body, amount: 6 }, headers: { 'idempotency-key': 'key-1' } });
    expect(reused.status).toBe(422);
    expect((await readLedger(a.store, 'rest_ledger')).filter((e) => e.ref === 'r-1')).toHaveLength(1);
  });

  it('4xx answers: a bad body is 400, an unknown account 404, a known one 200 with its balance', async () => {
    expect((await call(`${a.url}/transfers`, { method: 'POST', json: { from: 'A' } })).status).toBe(400);
    expect((await call(`${a.url}/transfers`, { method: 'POST', body: 'not json' })).status).toBe(400);
    expect((await call(`${a.url}/accounts/nobody`)).status).toBe(404);
    const known = await call(`${a.url}/accounts/B`);
    expect(known.status).toBe(200);
    expect(known.body).toEqual({ account: 'B', balance: 5 });
    expect((await call(`${a.url}/transfers/r-1`)).status).toBe(200);
    expect((await call(`${a.url}/transfers`, { method: 'GET' })).status).toBe(405);
    expect((await call(`${a.url}/nowhere`)).status).toBe(404);
  });

  it("a request whose time is spent (X-Hotcold-Timeout-Ms: 0) is answered 503 EXPIRED and not executed", async () => {
    const r = await call(`${a.url}/transfers`, {
      method: 'POST',
      json: { from: 'A', to: 'B', amount: 1, ref: 'expired-1' },
      headers: { 'x-hotcold-timeout-ms': '0' },
    });
    expect(r.status).toBe(503);
    expect(r.body).toMatchObject({ error: 'EXPIRED' });
    expect((await readLedger(a.store, 'rest_ledger')).filter((e) => e.ref === 'expired-1')).toHaveLength(0);
  });

  it('planned handover: the standby takes over at once and answers a repeated key from the shared record', async () => {
    await a.node.stop({ drain: true });
    await until(() => b.node.status === 'active', 10_000, 'node-b active');
    const body = { from: 'A', to: 'B', amount: 5, ref: 'r-1' };
    const replay = await call(`${b.url}/transfers`, { method: 'POST', json: body, headers: { 'idempotency-key': 'key-1' } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('x-hotcold-node')).toBe('node-b');
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect((await readLedger(b.store, 'rest_ledger')).filter((e) => e.ref === 'r-1')).toHaveLength(1);
  });
});
