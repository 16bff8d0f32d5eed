/**
 * A planned switchover (SIGTERM) while a client's first calls are still queued on the draining
 * node: real `hotcold node` processes on a fresh PostgreSQL database, real HAProxy from the
 * shipped config, the demo client. The ledger table of the run's own database is locked before
 * the first call, so no call can answer before the drain — what a CPU-starved machine does to a
 * client's first second (the "planned drain" end-to-end scenario once ended with all 32 callers
 * failing `unknown-outcome`). HAProxy marks the draining node down and cuts its sessions
 * (`on-marked-down shutdown-sessions`): every call in flight fails "maybe". Keyed calls to a
 * deployment that deduplicates must still all succeed, once each, although the client had not
 * yet heard any node say that it deduplicates.
 */
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { startBalancer, type RunningBalancer } from '../../src/cli/demo/balancer.js';
import { createPostgresDatabase, type RunDatabase } from '../../src/cli/demo/database.js';
import { createDemoClient } from '../../src/cli/demo/demo-client.js';
import { findHaproxy } from '../../src/cli/demo/haproxy.js';
import { readLedgerKeys, transferParams } from '../../src/cli/demo/ledger.js';
import { spawnNodeProcess, type NodeProcess } from '../../src/cli/demo/node-process.js';
import type { HotcoldClient } from '../../src/index.js';
import { databaseAvailable, PG_URL } from '../support/services.js';
import { balancerBinaryAvailable } from './failover-suite.js';

const binary = balancerBinaryAvailable('haproxy', findHaproxy());
const postgres = await databaseAvailable('postgres');

const CALLERS = 8;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => undefined);
});

/** Polls `probe` until it returns a value; `what` names the wait when the bound (a stuck run, not a target) passes. */
async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, boundMs = 60_000): Promise<T> {
  const until = performance.now() + boundMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (performance.now() > until) throw new Error(`no ${what} within ${boundMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

async function activeOf(nodes: readonly NodeProcess[]): Promise<NodeProcess | undefined> {
  for (const node of nodes) if ((await node.health(1000))?.status === 200) return node;
  return undefined;
}

describe.runIf(binary && postgres)('planned drain through HAProxy while the client\'s first calls are queued on the draining node', () => {
  it('every keyed call succeeds, once: the client asks for proof of dedup although no answer has told it yet', async () => {
    const db: RunDatabase = await createPostgresDatabase(PG_URL);
    cleanups.push(() => db.dispose());
    const nodes: NodeProcess[] = [];
    for (const machine of ['node-a', 'node-b']) {
      const node = await spawnNodeProcess({ machine, db: db.url, updateIntervalMs: 200, waitIntervalMs: 1000 });
      cleanups.push(() => node.child.stop({ signal: 'SIGKILL' }));
      nodes.push(node);
    }
    const hot = await waitFor('node holding the lease', () => activeOf(nodes));
    const standby = nodes.find((n) => n !== hot) as NodeProcess;
    const balancer: RunningBalancer = await startBalancer('haproxy', nodes.map((n) => ({ name: n.machine, port: n.port })), 100);
    cleanups.push(() => balancer.stop());
    await waitFor('route through HAProxy', async () => ((await balancer.health())?.status === 200 ? true : undefined));

    // The run's own database (never the shared one's other tables): every transfer inserts into
    // the ledger, so none can commit while this lock is held.
    const locker = new pg.Client({ connectionString: db.url });
    await locker.connect();
    cleanups.push(() => locker.end());
    await locker.query('BEGIN');
    await locker.query('LOCK TABLE ledger_entries IN EXCLUSIVE MODE');

    const client: HotcoldClient = createDemoClient(balancer.url);
    cleanups.push(() => client.close());
    let settledBeforeDrain = 0;
    let draining = false;
    const keys = Array.from({ length: CALLERS }, (_, i) => `first-calls-${i}`);
    const calls = keys.map((key, i) =>
      client.call('transfer', transferParams(i, 0, key), { idempotencyKey: key }).finally(() => {
        if (!draining) settledBeforeDrain += 1;
      }),
    );
    const outcomes = Promise.allSettled(calls);

    // A call is in flight on the hot node, waiting for the ledger: the drain starts on it.
    await waitFor('transfer waiting on the locked ledger', async () => {
      const { rows } = await locker.query<{ n: string }>(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      return Number(rows[0]?.n ?? 0) > 0 ? true : undefined;
    });
    draining = true;
    hot.child.signal('SIGTERM');
    await waitFor(`${standby.machine} to take over`, async () => ((await standby.health(1000))?.status === 200 ? true : undefined));
    await locker.query('COMMIT');

    const settled = await outcomes;
    const failures = settled.flatMap((s) => (s.status === 'rejected' ? [String(s.reason)] : []));
    expect(settledBeforeDrain, 'the premise: no call had an answer before the drain').toBe(0);
    expect(failures).toEqual([]);
    const ledger = await readLedgerKeys(db);
    for (const key of keys) expect(ledger.filter((k) => k === key), key).toHaveLength(1);
  }, 180_000);
});
