/**
 * release() on a warm node whose owner contends again the moment its held signal aborts (as
 * the reference node does): the release must still complete, and the lease goes round again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { createLease, sqliteStore, type Lease } from 'hotcold/lease';
import { uniqueTable } from './helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'hotcold-release-'));
let lease: Lease | undefined;

afterEach(async () => {
  await lease?.close();
  rmSync(dir, { recursive: true, force: true });
});

it('release() resolves even when acquire() is called again as the held signal aborts', async () => {
  const store = sqliteStore(path.join(dir, 'lease.db'), { table: uniqueTable() });
  lease = createLease({ store, machineName: 'solo', updateInterval: 100, waitInterval: 300, mode: 'warm' });
  const held = await lease.acquire();
  let again: Promise<unknown> | undefined;
  held.signal.addEventListener('abort', () => {
    again = lease?.acquire();
  });
  const released = lease.release().then(() => 'released');
  const timeout = new Promise((resolve) => setTimeout(() => resolve('hung'), 3000));
  expect(await Promise.race([released, timeout])).toBe('released');
  expect(again).toBeDefined();
  const next = (await again) as { token: number };
  expect(next.token).toBeGreaterThan(held.token);
});
