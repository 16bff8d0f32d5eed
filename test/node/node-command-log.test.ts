/**
 * `hotcold node`'s log, as an operator sees it: a real child process on PostgreSQL with a password
 * in its database URL, called by a client with a bearer token. Stderr is pino JSON lines with
 * time, level, node and epoch, and one request line per call (method, key, outcome, durationMs);
 * neither the password, nor the token, nor any call's params appear anywhere in the output.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { createClient, RPCException } from 'hotcold';
import { storeFromUrl } from 'hotcold/lease';
import { databaseAvailable, PG_URL } from '../support/services.js';
import { spawnNode, type NodeProcess } from './child.js';
import { rpc, uniq } from './support.js';

const PASSWORD = 'Pg-Secret-Hunter2';
const BEARER = 'bearer-Sesame-0123456789';
const PARAM = 'PARAM-MARKER-7f3a';

const pg = await databaseAvailable('postgres');
const tables: string[] = [];

afterAll(async () => {
  if (tables.length === 0) return;
  const store = storeFromUrl(PG_URL);
  try {
    await store.transaction(async (tx) => {
      for (const t of tables) await tx.execute(`DROP TABLE IF EXISTS ${t}`);
    });
  } finally {
    await store.close();
  }
});

describe.runIf(pg)('hotcold node log (child process, PostgreSQL)', () => {
  it('JSON lines with time, level, node, epoch and a request line per call; no credential or params in the output', async () => {
    const s = uniq();
    const names = { lease: `${s}_lease`, prefix: `${s}_l`, dedup: `${s}_idem`, feed: `${s}_feed` };
    tables.push(names.lease, `${names.prefix}_entries`, `${names.prefix}_accounts`, names.dedup, names.feed, `${names.feed}_seq`, `${names.feed}_counter`);
    // Trust authentication ignores the password, so the node connects; it must still never print it.
    const url = new URL(PG_URL);
    url.password = PASSWORD;
    let node: NodeProcess | undefined;
    try {
      node = await spawnNode([
        '--db', url.toString(), '--machine', 'alpha', '--update-interval', '200', '--wait-interval', '2000', '--log-level', 'debug',
        '--table', names.lease, '--prefix', names.prefix, '--dedup-table', names.dedup, '--feed-table', names.feed,
      ]);
      await node.waitFor((l) => l.event === 'node' && l.status === 'active', 30_000, 'active');
      const client = createClient({ url: node.url, auth: { bearer: BEARER }, methods: { transfer: { idempotent: false } } });
      try {
        await client.call('transfer', { from: 'A', to: 'B', amount: 3, ref: PARAM });
        await client.call('balance', { account: PARAM });
        await expect(client.call('no.such.method', { secret: PARAM })).rejects.toBeInstanceOf(RPCException);
      } finally {
        await client.close();
      }
      const raw = await rpc(node.url, 'balance', { account: 'A' }, { authorization: `Bearer ${BEARER}`, 'idempotency-key': 'raw-key-1' });
      expect(raw.status).toBe(200);
      node.child.kill('SIGTERM');
      expect((await node.exited).code).toBe(0);

      const lines = node.stderr().split('\n').filter((l) => l.length > 0);
      const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      for (const r of records) {
        expect(r).toMatchObject({ level: expect.stringMatching(/^(debug|info|warn|error)$/), node: 'alpha', msg: expect.any(String) });
        expect(Number.isNaN(Date.parse(r.time as string))).toBe(false);
      }
      // Once it holds the lease, every line carries the epoch it serves under.
      expect(records.find((r) => r.msg === 'lease acquired')).toMatchObject({ level: 'info', epoch: expect.any(Number) });
      const requests = records.filter((r) => r.msg === 'request');
      expect(requests.map((r) => [r.method, r.outcome])).toEqual([
        ['transfer', 'ok'],
        ['balance', 'ok'],
        ['no.such.method', 'error'],
        ['balance', 'ok'],
      ]);
      for (const r of requests) {
        expect(r).toMatchObject({ level: 'info', epoch: expect.any(Number), key: expect.any(String), httpStatus: 200, durationMs: expect.any(Number) });
        expect(r).not.toHaveProperty('params');
      }
      expect(requests[2]).toMatchObject({ code: -32601 });
      expect(requests[3]).toMatchObject({ key: 'raw-key-1' });
      expect(records.some((r) => r.msg === 'lease released')).toBe(true);

      const output = `${JSON.stringify(node.lines)}\n${node.stderr()}`;
      expect(output).not.toContain(PASSWORD);
      expect(output).not.toContain(encodeURIComponent(PASSWORD));
      expect(output).not.toContain(BEARER);
      expect(output).not.toContain(PARAM);
    } finally {
      if (node && node.child.exitCode === null && node.child.signalCode === null) node.child.kill('SIGKILL');
      await node?.exited;
    }
  }, 150_000);
});
