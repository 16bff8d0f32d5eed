/**
 * Fencing tokens never repeat — also when the shared PostgreSQL runs with `synchronous_commit =
 * off` (a common tuning, set by a DBA on the server, the database or the role) and crashes.
 *
 * With it, a COMMIT is acknowledged before its WAL is flushed: a crash (not a failover: the
 * timeline, hence the failover generation, stays the same) loses the last commits. Found by
 * attacking the lease: a takeover acknowledged with token N was gone after the crash, and the
 * next holder was issued token N again — two holders with one token, whose fenced writes the
 * database cannot tell apart.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { createLease, postgresStore } from '../../src/lease/index.js';
import { privatePostgresAvailable, startPrivatePostgres, type PrivatePostgres } from '../support/private-postgres.js';
import { uniqueTable } from './helpers.js';

describe.runIf(privatePostgresAvailable())('synchronous_commit = off, then a crash (private PostgreSQL)', () => {
  let server: PrivatePostgres | undefined;
  beforeAll(async () => {
    // The WAL writer flushes asynchronous commits every wal_writer_delay: 10 s (its maximum), so
    // that the crash below comes before it.
    server = await startPrivatePostgres({ settings: { synchronous_commit: 'off', wal_writer_delay: '10000ms' } });
  }, 60_000);
  afterAll(async () => server?.stop());

  it('a token acknowledged before the crash is never issued again after it', async () => {
    const table = uniqueTable();
    const options = { updateInterval: 100, waitInterval: 1000, mode: 'cold' as const };
    const first = postgresStore(server!.url, { table });
    const a = createLease({ store: first, machineName: 'a', ...options });
    // The table exists and is on disk before the run (a checkpoint flushes every WAL record).
    await first.init();
    const admin = new pg.Client(server!.url);
    await admin.connect();
    await admin.query('CHECKPOINT');
    await admin.end();

    const held = await a.acquire();
    await server!.crash();
    // The crashed holder's engine goes away without a word (as its process would).
    await a.close().catch(() => undefined);
    await first.close();

    const second = postgresStore(server!.url, { table });
    const b = createLease({ store: second, machineName: 'b', ...options });
    try {
      const next = await b.acquire();
      expect(next.token, `token ${held.token} was issued before the crash`).toBeGreaterThan(held.token);
    } finally {
      await b.close();
      await second.close();
    }
  }, 60_000);
});
