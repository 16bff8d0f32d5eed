/**
 * One SQLite database file reached through several paths must have ONE lease: the lease file is
 * named after the file's identity (realpath), and a file with several hard links is refused.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StoreConfigurationError, createLease, sqliteStore, type Lease, type SqlLeaseStore } from '../../src/lease/index.js';

const opened: { leases: Lease[]; stores: SqlLeaseStore[]; dirs: string[] } = { leases: [], stores: [], dirs: [] };
afterEach(async () => {
  for (const l of opened.leases.splice(0)) await l.close();
  for (const s of opened.stores.splice(0)) await s.close();
  for (const d of opened.dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hc-sqlite-identity-'));
  opened.dirs.push(dir);
  return dir;
}

function leaseOn(file: string, machineName: string): Lease {
  const store = sqliteStore(file);
  opened.stores.push(store);
  const lease = createLease({ store, machineName, updateInterval: 200, waitInterval: 1000, mode: 'cold' });
  opened.leases.push(lease);
  return lease;
}

describe('SQLite: the lease follows the database file, not the path text', () => {
  it('through a symlink (to the file, and to its directory) a second engine waits for the first', async () => {
    const dir = tempDir();
    fs.mkdirSync(path.join(dir, 'real'));
    fs.symlinkSync(path.join(dir, 'real', 'app.db'), path.join(dir, 'real', 'link.db'));
    fs.symlinkSync(path.join(dir, 'real'), path.join(dir, 'alias'));
    const a = leaseOn(path.join(dir, 'real', 'app.db'), 'a');
    const held = await a.acquire();
    for (const [other, name] of [[path.join(dir, 'real', 'link.db'), 'b'], [path.join(dir, 'alias', 'app.db'), 'c'], [path.join(dir, 'real', '..', 'real', 'app.db'), 'd']] as const) {
      const b = leaseOn(other, name);
      const outcome = await Promise.race([b.acquire().then(() => 'acquired'), new Promise<string>((r) => setTimeout(() => r('waiting'), 2500))]);
      expect(outcome, other).toBe('waiting');
    }
    expect(held.isValid()).toBe(true);
    expect(fs.existsSync(path.join(dir, 'real', 'link.db-lease'))).toBe(false);
  });

  it('a database file with a second hard link is refused at once with a StoreConfigurationError', async () => {
    const dir = tempDir();
    const file = path.join(dir, 'app.db');
    fs.writeFileSync(file, '');
    fs.linkSync(file, path.join(dir, 'other.db'));
    const a = leaseOn(path.join(dir, 'other.db'), 'a');
    const error = await a.acquire().then(() => undefined, (e: unknown) => e);
    expect(error).toBeInstanceOf(StoreConfigurationError);
    expect((error as StoreConfigurationError).fault).toBe('location');
    expect((error as StoreConfigurationError).message).toMatch(/2 hard links/);
  });
});
