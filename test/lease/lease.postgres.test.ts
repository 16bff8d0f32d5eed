import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { postgresStore } from '../../src/lease/index.js';
import { databaseAvailable, PG_URL } from '../support/services.js';
import { leaseSuite } from './lease-suite.js';

const available = await databaseAvailable('postgres');

async function withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

describe.runIf(available)('postgres', () => {
  leaseSuite('postgres', {
    url: PG_URL,
    drop: (table) => withClient(async (c) => void (await c.query(`DROP TABLE IF EXISTS ${table}`))),
    async lockRow(table, name) {
      const client = new pg.Client({ connectionString: PG_URL });
      await client.connect();
      await client.query('BEGIN');
      await client.query(`SELECT * FROM ${table} WHERE name = $1 FOR UPDATE`, [name]);
      return async () => {
        await client.query('COMMIT');
        await client.end();
      };
    },
  });
});

describe.runIf(available)('postgresStore with the user\'s pool', () => {
  it('uses it and leaves it open on close()', async () => {
    const pool = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const store = postgresStore(pool, { table: 'lease_user_pool_never_created' });
    expect(await store.transaction(async (tx) => tx.query<{ one: number }>('SELECT 1 AS one'))).toEqual([{ one: 1 }]);
    await store.close();
    expect((await pool.query('SELECT 2 AS two')).rows).toEqual([{ two: 2 }]);
    await pool.end();
  });
});

describe.runIf(available)('PostgreSQL release notifications (an accelerator only)', () => {
  it('a standby polling every 5 s still takes over within ms of a release; without the listener it falls back to polling', async () => {
    const { createLease, storeFromUrl } = await import('../../src/lease/index.js');
    const table = `lease_notify_${Math.random().toString(16).slice(2, 10)}`;
    const store = storeFromUrl(PG_URL, { table });
    const options = { store, name: 'n', updateInterval: 1000, mode: 'warm' } as const;
    // The alternatives to the notification are far away: a announces a 120 s lease and b re-reads
    // the row only every 60 s, so without the notification b cannot take over before 60 s after
    // its first read (the test would time out first). How soon after the release: bench/lease.ts.
    // b announces 120 s too: in the second part, a waiting out b's lease instead of polling could
    // not get in before 120 s either (with 10 s it got in after 10 s, inside the test's timeout).
    const B_POLL = 60_000;
    const LEASE = 120_000;
    const a = createLease({ ...options, machineName: 'a', waitInterval: LEASE, pollInterval: 5000 });
    const b = createLease({ ...options, machineName: 'b', waitInterval: LEASE, pollInterval: B_POLL });
    try {
      await a.acquire();
      const contending = performance.now(); // b's first read comes after this
      const pending = b.acquire();
      // b is listening (its LISTEN session is up: waited for, not slept for) and napping.
      await listening(table);
      await a.release();
      await pending;
      expect(performance.now()).toBeLessThan(contending + B_POLL);

      // Kill the listening session: correctness does not depend on it (b re-subscribes next time).
      const aContending = performance.now(); // b's lease, as a reads it, runs until ~LEASE after this
      const pendingA = a.acquire();
      await listening(table);
      // Only this test's listener: other suites (and a second CI run) share the server.
      await withClient((c) =>
        c.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query = $1 AND application_name = 'hotcold'", [`LISTEN "hotcold_${table}"`]),
      );
      // A released row never expires: a gets it only by re-reading (its 5 s poll), its listener
      // gone. Getting it before b's 120 s lease could have run out is the evidence (a napping
      // until that expiry instead of every pollInterval would not); how soon is bench/lease.ts's.
      await b.release();
      await pendingA;
      expect(performance.now()).toBeLessThan(aContending + LEASE);
    } finally {
      await a.close();
      await b.close();
      await store.close();
      await withClient(async (c) => void (await c.query(`DROP TABLE IF EXISTS ${table}`)));
    }
  });
});

/** Waits until a LISTEN session on this table's release channel is up. */
async function listening(table: string): Promise<void> {
  const until = performance.now() + 20_000;
  for (;;) {
    const { rows } = await withClient((c) =>
      c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE query = $1 AND application_name = 'hotcold'", [`LISTEN "hotcold_${table}"`]),
    );
    if ((rows[0] as { n: number }).n > 0) return;
    if (performance.now() > until) throw new Error('no LISTEN session within 20 s');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe.runIf(available)('PostgreSQL fenced transactions and renewals', () => {
  it('an open assertHeld transaction blocks a takeover but not the holder\'s renewals', async () => {
    const { createLease, storeFromUrl, promoteLease, FencingError } = await import('../../src/lease/index.js');
    const table = `lease_keyshare_${Math.random().toString(16).slice(2, 10)}`;
    const store = storeFromUrl(PG_URL, { table });
    const lease = createLease({ store, name: 'k', machineName: 'k', updateInterval: 50, waitInterval: 2000 });
    try {
      const held = await lease.acquire();
      let renewals = 0;
      const sub = lease.events$.subscribe((e) => {
        if (e.type === 'renewed') renewals += 1;
      });
      let forcedAt = 0;
      let committedAt = 0;
      let forcing: Promise<unknown> | undefined;
      await store.transaction(async (tx) => {
        await lease.assertHeld(tx, held.token);
        // Renewals go on while the fenced transaction holds its lock: two come (every 50 ms) while
        // it is open. Waited for, not counted in a fixed 300 ms a loaded machine may stretch; a
        // renewal blocked by the lock would never come (the lease would fence itself after 2 s).
        const before = renewals;
        for (const until = performance.now() + 20_000; renewals < before + 2 && performance.now() < until; ) {
          await new Promise((resolve) => setTimeout(resolve, 10));
        }
        expect(renewals).toBeGreaterThanOrEqual(before + 2);
        expect(held.isValid()).toBe(true);
        // ...but a forced promotion (token change) must wait for it.
        forcing = promoteLease(store, 'k', { force: true }).then(() => {
          forcedAt = performance.now();
        });
        await new Promise((resolve) => setTimeout(resolve, 300));
        expect(forcedAt).toBe(0);
        committedAt = performance.now();
      });
      await forcing;
      expect(forcedAt).toBeGreaterThanOrEqual(committedAt);
      await expect(store.transaction((tx) => lease.assertHeld(tx, held.token))).rejects.toBeInstanceOf(FencingError);
      sub.unsubscribe();
    } finally {
      await lease.close();
      await store.close();
      await withClient(async (c) => void (await c.query(`DROP TABLE IF EXISTS ${table}`)));
    }
  });
});

describe.runIf(available)('postgresStore transaction whose session the server ends', () => {
  it('rejects the transaction instead of crashing the process, and the pool recovers', async () => {
    const { postgresStore: make } = await import('../../src/lease/index.js');
    const store = make(PG_URL, { table: 'lease_never_created_x' });
    try {
      const error = await store
        .transaction(async (tx) => {
          const [row] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
          await withClient((c) => c.query('SELECT pg_terminate_backend($1)', [row?.pid]));
          await new Promise((resolve) => setTimeout(resolve, 200)); // the 'error' event arrives now
          await tx.query('SELECT 1');
        })
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(Error);
      expect(await store.transaction((tx) => tx.query('SELECT 2 AS two'))).toEqual([{ two: 2 }]);
    } finally {
      await store.close();
    }
  });
});
