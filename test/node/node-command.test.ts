import { afterEach, describe, expect, it } from 'vitest';
import { sqliteStore } from 'hotcold/lease';
import { readLedger } from 'hotcold/testing';
import { fixture, rpc, type Fixture } from './support.js';
import { spawnNode, type NodeProcess } from './child.js';

let f: Fixture;
const children: NodeProcess[] = [];
afterEach(async () => {
  for (const c of children.splice(0)) {
    if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
    await c.exited;
  }
  await f?.cleanup();
});

const active = (l: Record<string, unknown>): boolean => l.event === 'node' && l.status === 'active';

describe('hotcold node (child processes on one SQLite file)', () => {
  // Two `hotcold node` processes through tsx and a failover between them: seconds each on a
  // loaded machine, more than the 30 s default leaves room for.
  it('serves the ledger app while active; SIGTERM drains, releases (the standby takes over at once) and exits 0', async () => {
    f = fixture();
    // The alternative to the release is far away: without it beta would wait out alpha's 60 s
    // lease, so beta active before 60 s after the SIGTERM shows the release, however loaded the
    // machine. (Beta re-reads the row every 50 ms, so its 20 s wait below is 400x that work.)
    const WAIT_INTERVAL_MS = 60_000;
    const common = ['--db', f.dbPath, '--update-interval', '200', '--wait-interval', String(WAIT_INTERVAL_MS)];
    const a = await spawnNode([...common, '--machine', 'alpha']);
    children.push(a);
    await a.waitFor(active, 20_000, 'alpha active');
    const b = await spawnNode([...common, '--machine', 'beta']);
    children.push(b);
    const ok = await rpc(a.url, 'transfer', { from: 'A', to: 'B', amount: 5, ref: 'r1' }, { 'idempotency-key': 'k1' });
    expect(ok.status).toBe(200);
    expect(ok.body.result).toMatchObject({ ref: 'r1', seq: 1 });
    expect((await rpc(b.url, 'ping')).status).toBe(503);

    const killedAt = Date.now();
    a.child.kill('SIGTERM');
    const exit = await a.exited;
    expect(exit.code).toBe(0);
    expect(a.lines.some((l) => l.event === 'node' && l.status === 'draining')).toBe(true);
    expect(a.lines.at(-1)).toEqual({ event: 'stopped', code: 0 });
    await b.waitFor(active, 20_000, 'beta active');
    // Released: beta did not have to wait out the 60 s waitInterval. How soon is bench/failover.ts's.
    expect(Date.now() - killedAt).toBeLessThan(WAIT_INTERVAL_MS);
    const again = await rpc(b.url, 'transfer', { from: 'A', to: 'B', amount: 5, ref: 'r1' }, { 'idempotency-key': 'k1' });
    expect(again.body.result).toEqual(ok.body.result);
    expect((await rpc(b.url, 'balance', { account: 'B' })).body.result).toEqual({ account: 'B', balance: 5 });
    const store = sqliteStore(f.dbPath);
    f.stores.push(store);
    const ledger = await readLedger(store);
    expect(ledger).toHaveLength(1);
    expect(ledger[0]).toMatchObject({ ref: 'r1', idemKey: 'k1', amount: 5 });
  }, 180_000);

  it('after SIGKILL of the hot node the warm standby takes over after waitInterval', async () => {
    f = fixture();
    const common = ['--db', f.dbPath, '--update-interval', '200', '--wait-interval', '1000'];
    const a = await spawnNode([...common, '--machine', 'alpha']);
    children.push(a);
    await a.waitFor(active, 20_000, 'alpha active');
    const b = await spawnNode([...common, '--machine', 'beta']);
    children.push(b);
    a.child.kill('SIGKILL');
    expect((await a.exited).signal).toBe('SIGKILL');
    const line = await b.waitFor(active, 20_000, 'beta active');
    const aToken = a.lines.filter(active).at(-1)?.token as number;
    expect(line.token).toBeGreaterThan(aToken);
    expect((await rpc(b.url, 'ping')).body.result).toMatchObject({ pong: true });
  }, 180_000);

  it('rejects bad flags with exit code 2', async () => {
    f = fixture();
    await expect(spawnNode(['--db', f.dbPath, '--mode', 'lukewarm'])).rejects.toThrow(/--mode/);
  });
});
