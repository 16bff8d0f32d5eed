/**
 * gRPC failover end to end: two grpc-js ledger nodes (child processes, one SQLite lease) behind
 * real HAProxy (HTTP/2 both sides, `proto h2`, the gRPC health check of the shipped
 * examples/haproxy/haproxy-grpc.cfg used as is), keyed non-idempotent transfers through
 * grpcInterceptor from 8 callers. SIGKILL of the hot node, a planned switchover (SIGUSR2:
 * release the lease), then a frozen hot node (SIGSTOP: its connections stay open, the streams on
 * them hang until HAProxy marks it down and cuts them) under the same load; after each, the
 * ledger check: 0 lost, 0 duplicated,
 * every "not executed" true. Runs under CI=true (HAProxy is installed by .ci/run).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FailoverEvent } from '../../src/index.js';
import { checkLedger, clientThrough, haproxyOrFail, ledgerWriteLockHeld, runLoad, spawnLedgerNode, startRig, type Rig } from './grpc-support.js';

const binary = haproxyOrFail();

describe.skipIf(!binary)('gRPC through HAProxy (HTTP/2): failover under load', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig();
  }, 180_000);
  afterAll(async () => {
    await rig?.close();
  }, 60_000);

  it('SIGKILL of the hot node: the standby takes over, calls continue through the same client, 0 lost, 0 duplicated', async () => {
    const { client, interceptor, disruptions } = clientThrough(rig.haproxy.url);
    const failovers: FailoverEvent[] = [];
    const sub = interceptor.policy.failover$.subscribe((e) => failovers.push(e));
    const load = runLoad(client, 8, 'kill');
    // The hot node is the one answering now, not necessarily a (hot when the rig started): under load its lease can lapse while b starts (tsx, seconds) and b hold it. From here on rig.a is the node hot at this test's start.
    await expect.poll(() => load.outcomes.find((o) => o.ok)?.node, { timeout: 60_000, interval: 50 }).toBeDefined();
    if (load.outcomes.find((o) => o.ok)?.node === rig.b.name) [rig.a, rig.b] = [rig.b, rig.a];
    await expect.poll(() => load.acked(rig.a.name), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(40);
    rig.a.child.signal('SIGKILL');
    await rig.a.child.exited;
    await expect.poll(() => load.acked(rig.b.name), { timeout: 90_000, interval: 50 }).toBeGreaterThanOrEqual(40);
    await load.stop();
    sub.unsubscribe();
    const report = await checkLedger(rig.file, load.outcomes);
    console.log(`ledger check: ${JSON.stringify(report)}, failed attempts and outages seen: ${disruptions()}`);
    expect(report.acked).toBeGreaterThanOrEqual(80);
    expect(disruptions()).toBeGreaterThan(0);
    expect(failovers.some((f) => f.from?.node === rig.a.name && f.to.node === rig.b.name)).toBe(true);
    client.close();
    await interceptor.close();
  }, 240_000);

  it('planned switchover (the hot node releases the lease): the other takes over at once, 0 lost, 0 duplicated', async () => {
    // Bring the killed node back on its port, as a standby.
    rig.a = await spawnLedgerNode(rig.file, rig.a.name, rig.a.port);
    const { client, interceptor, disruptions } = clientThrough(rig.haproxy.url);
    const load = runLoad(client, 8, 'switch');
    await expect.poll(() => load.acked(rig.b.name), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(40);
    rig.b.child.signal('SIGUSR2');
    await rig.a.acquired;
    await expect.poll(() => load.acked(rig.a.name), { timeout: 90_000, interval: 50 }).toBeGreaterThanOrEqual(40);
    await load.stop();
    const report = await checkLedger(rig.file, load.outcomes);
    console.log(`ledger check: ${JSON.stringify(report)}, failed attempts and outages seen: ${disruptions()}`);
    expect(report.acked).toBeGreaterThanOrEqual(80);
    expect(disruptions()).toBeGreaterThan(0);
    client.close();
    await interceptor.close();
  }, 240_000);

  it('SIGSTOP of the hot node: calls stuck on its open connection are cut when HAProxy marks it down, service resumes under a new token, 0 lost, 0 duplicated', async () => {
    // node a is hot now (it took over in the switchover); node b stands by after its release.
    rig.b.child.process.kill('SIGKILL');
    await rig.b.child.exited;
    rig.b = await spawnLedgerNode(rig.file, rig.b.name, rig.b.port);
    const { client, interceptor, disruptions } = clientThrough(rig.haproxy.url);
    const load = runLoad(client, 8, 'freeze');
    await expect.poll(() => load.acked(rig.a.name), { timeout: 60_000, interval: 50 }).toBeGreaterThanOrEqual(40);
    const tokenBefore = Math.max(...load.outcomes.filter((o) => o.ok && o.token !== undefined).map((o) => o.token as number));
    const before = load.outcomes.length;
    rig.a.child.signal('SIGSTOP');
    try {
      // SQLite's limit: a process frozen while it holds a file's write lock blocks every other
      // process's writes to that file until it runs again. Frozen in the instant of a renewal (the
      // lease file's lock), it blocks the takeover; frozen inside a transfer's transaction (the
      // ledger file's lock, held for the whole call), b takes the lease at once but none of its
      // transfers can commit. Either way thaw it: its lease has expired by then, it fences itself,
      // and whichever node takes the lease next (b, or a again) serves under a new token.
      const thawAfter = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 15_000).unref());
      if (!(await Promise.race([rig.b.acquired.then(() => true, () => false), thawAfter]))) {
        console.log('node a froze holding the lease file\'s lock: thawed after 15 s');
        rig.a.child.signal('SIGCONT');
      } else if (await ledgerWriteLockHeld(rig.file, 3000)) {
        console.log('node a froze holding the ledger file\'s write lock: thawed');
        rig.a.child.signal('SIGCONT');
      }
      // 40 transfers acknowledged by the node serving after the freeze.
      await expect
        .poll(() => load.outcomes.slice(before).filter((o) => o.ok && (o.node === rig.b.name || o.token !== undefined && o.token > tokenBefore)).length, { timeout: 90_000, interval: 50 })
        .toBeGreaterThanOrEqual(40);
    } finally {
      rig.a.child.signal('SIGCONT');
    }
    await load.stop();
    const report = await checkLedger(rig.file, load.outcomes);
    console.log(`ledger check: ${JSON.stringify(report)}, failed attempts and outages seen: ${disruptions()}`);
    expect(report.acked).toBeGreaterThanOrEqual(80);
    expect(disruptions()).toBeGreaterThan(0);
    client.close();
    await interceptor.close();
  }, 240_000);
});
