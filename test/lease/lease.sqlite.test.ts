import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore } from '../../src/lease/index.js';
import { leaseSuite } from './lease-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'hotcold-lease-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

leaseSuite('sqlite', {
  url: `sqlite:${join(dir, 'lease.db')}`,
  async drop() {
    // the temporary directory goes away with the file
  },
});

describe('sqliteStore with the user\'s Database', () => {
  it('uses it, serialises transactions on it, and leaves it open on close()', async () => {
    const db = new Database(join(dir, 'user.db'));
    const store = sqliteStore(db);
    await store.transaction(async (tx) => {
      await tx.execute('CREATE TABLE t (n INTEGER)');
    });
    // Two async transactions on one connection must not interleave.
    const order: string[] = [];
    await Promise.all(
      [1, 2].map((n) =>
        store.transaction(async (tx) => {
          order.push(`begin ${n}`);
          await tx.execute('INSERT INTO t (n) VALUES (?)', [n]);
          await new Promise((resolve) => setTimeout(resolve, 20));
          order.push(`end ${n}`);
        }),
      ),
    );
    expect(order).toEqual(['begin 1', 'end 1', 'begin 2', 'end 2']);
    await expect(store.transaction(async (tx) => {
      await tx.execute('INSERT INTO t (n) VALUES (3)');
      throw new Error('roll back');
    })).rejects.toThrow('roll back');
    await store.close();
    expect(db.open).toBe(true);
    expect(db.prepare('SELECT COUNT(*) AS c FROM t').get()).toEqual({ c: 2 });
    db.close();
  });
});

describe('SQLite: a renewal stuck behind another connection\'s write lock', () => {
  it('extends nothing: the holder fences itself (better-sqlite3 waits synchronously, then fails)', async () => {
    const { createLease, LeaseLostError } = await import('../../src/lease/index.js');
    const file = join(dir, 'busy.db');
    const store = sqliteStore(file, { busyTimeoutMs: 700 });
    const lease = createLease({ store, machineName: 'busy', updateInterval: 100, waitInterval: 500 });
    const blocker = new Database(file);
    try {
      const held = await lease.acquire();
      const lost = new Promise((resolve) => held.signal.addEventListener('abort', resolve, { once: true }));
      blocker.exec('BEGIN IMMEDIATE'); // holds the database write lock
      const lockedAt = performance.now();
      // The next renewal blocks the event loop for busyTimeoutMs, then fails with SQLITE_BUSY.
      await lost;
      expect(held.isValid()).toBe(false);
      expect((held.signal.reason as InstanceType<typeof LeaseLostError>).reason).toBe('self-fenced');
      expect(performance.now() - lockedAt).toBeLessThan(500 + 700 + 500);
    } finally {
      if (blocker.inTransaction) blocker.exec('ROLLBACK');
      blocker.close();
      await lease.close();
      await store.close();
    }
  });
});
