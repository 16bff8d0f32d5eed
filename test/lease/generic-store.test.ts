import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLease, sqliteStore } from '../../src/lease/index.js';
import type { LeaseStore } from '../../src/lease/types.js';

const dir = mkdtempSync(join(tmpdir(), 'hotcold-lease-generic-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a store without the autocommit fast path', () => {
  it('runs every lease statement in transaction() instead', async () => {
    const inner = sqliteStore(join(dir, 'generic.db'));
    let transactions = 0;
    // Only the documented LeaseStore members: no run().
    const store: LeaseStore = {
      dialect: inner.dialect,
      table: inner.table,
      init: () => inner.init(),
      ddl: () => inner.ddl(),
      read: (name) => inner.read(name),
      transaction: (fn) => {
        transactions += 1;
        return inner.transaction(fn);
      },
      assertHeld: (tx, name, token) => inner.assertHeld(tx, name, token),
      close: () => inner.close(),
    };
    const a = createLease({ store, machineName: 'g', updateInterval: 50, waitInterval: 200 });
    const b = createLease({ store, machineName: 'h', updateInterval: 50, waitInterval: 200, mode: 'warm' });
    const held = await a.acquire();
    const pending = b.acquire();
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(held.isValid()).toBe(true);
    await a.release();
    expect((await pending).token).toBe(held.token + 1);
    expect(transactions).toBeGreaterThan(3);
    await b.close();
    await a.close();
    await store.close();
  });
});

describe('a takeover whose answer is lost', () => {
  it('is adopted on the next read instead of waiting out its own lease', async () => {
    const inner = sqliteStore(join(dir, 'lost-answer.db'));
    const acquireSql = inner.sql.acquire;
    let dropped = 0;
    const store: LeaseStore = {
      ...inner,
      init: () => inner.init(),
      ddl: () => inner.ddl(),
      read: (name) => inner.read(name),
      transaction: (fn) => inner.transaction(fn),
      assertHeld: (tx, name, token) => inner.assertHeld(tx, name, token),
      close: () => inner.close(),
      async run(sql, params, options) {
        const result = await inner.run(sql, params, options);
        if (sql === acquireSql && dropped === 0) {
          dropped += 1;
          throw new Error('connection reset after the statement committed');
        }
        return result;
      },
    };
    // A long waitInterval: waiting out its own lease could not end before 20 s after the send.
    const W = 20_000;
    const a = createLease({ store, machineName: 'g', updateInterval: 100, waitInterval: W });
    const started = performance.now();
    const held = await a.acquire();
    expect(dropped).toBe(1);
    // Adopted, not waited out: the same token (a takeover after the expiry would be token 2),
    // and before the lease it took could have expired.
    expect(held.token).toBe(1);
    expect(performance.now() - started).toBeLessThan(W);
    expect(held.isValid()).toBe(true);
    await a.close();
    await store.close();
  });
});
