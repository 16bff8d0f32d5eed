import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createLease, storeFromUrl } from '../../src/lease/index.js';
import { runLeaseCliInProcess as runCli } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'hotcold-lease-cli-'));
const db = `sqlite:${join(dir, 'cli.db')}`;
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('hotcold lease (CLI)', () => {
  it('init --print prints the DDL per dialect without connecting, and never prints credentials', async () => {
    const pg = await runCli(['lease', 'init', '--print', '--db', 'postgres://admin:hunter2-sekrit@db.invalid:5432/app', '--table', 'my_lease']);
    expect(pg.code).toBe(0);
    expect(pg.stdout).toContain('CREATE TABLE IF NOT EXISTS my_lease');
    expect(pg.stdout).toContain('DOUBLE PRECISION');
    const my = await runCli(['lease', 'init', '--print', '--json', '--db', 'mariadb://root@db.invalid/test']);
    expect(JSON.parse(my.stdout)).toMatchObject({ dialect: 'mysql', table: 'hotcold_lease' });
    // unreachable database: exit 1, and the password is not in the message
    const down = await runCli(['lease', 'status', '--db', 'postgres://admin:hunter2-sekrit@127.0.0.1:1/app']);
    expect(down.code).toBe(1);
    expect(`${down.stdout}${down.stderr}`).not.toContain('hunter2-sekrit');
    expect(down.stderr).toContain('127.0.0.1:1');
  });

  it('status, release --holder, promote --force --bump against a live holder', async () => {
    const store = storeFromUrl(db);
    const lease = createLease({ store, machineName: 'cli-host', updateInterval: 200, waitInterval: 2000 });
    try {
      const held = await lease.acquire();
      const status = await runCli(['lease', 'status', '--db', db]);
      expect(status.code).toBe(0);
      expect(status.stdout).toContain(`holder:        ${lease.holderId}`);
      expect(status.stdout).toContain(`token:         ${held.token}`);
      expect(status.stdout).toMatch(/expires in: +\d/);

      const wrong = await runCli(['lease', 'release', '--db', db, '--holder', 'other-host']);
      expect(wrong.code).toBe(3);
      expect(held.isValid()).toBe(true);

      const forced = await runCli(['lease', 'promote', '--db', db, '--force', '--bump', '100', '--json']);
      expect(forced.code).toBe(0);
      expect(JSON.parse(forced.stdout)).toMatchObject({ outcome: 'forced', previousHolder: lease.holderId, token: held.token + 100 });
      if (!held.signal.aborted) await new Promise((resolve) => held.signal.addEventListener('abort', resolve, { once: true }));
      const again = await lease.acquire();
      expect(again.token).toBe(held.token + 101);

      const released = await runCli(['lease', 'release', '--db', db, '--holder', 'cli-host', '--json']);
      expect(released.code).toBe(0);
      expect(JSON.parse(released.stdout)).toMatchObject({ outcome: 'released', token: again.token + 1 });
    } finally {
      await lease.close();
      await store.close();
    }
  });

  it('usage errors exit 2', async () => {
    expect((await runCli(['lease'])).code).toBe(2);
    expect((await runCli(['lease', 'frobnicate', '--db', db])).code).toBe(2);
    const noDb = await runCli(['lease', 'status']);
    expect(noDb.code).toBe(2);
    expect(noDb.stderr).toContain('db');
  });
});
