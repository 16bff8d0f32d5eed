import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { spawnTs } from './helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'hotcold-lease-examples-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function run(file: string, db: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnTs(file, ['--db', db]);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    // The examples must exit by themselves: a leaked timer or socket would keep them alive.
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('lease examples run and exit by themselves', () => {
  it('examples/lease-cold.ts', async () => {
    const { code, stdout, stderr } = await run('examples/lease-cold.ts', `sqlite:${join(dir, 'cold.db')}`);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toContain('active with fencing token 1');
    expect(stdout).toContain('counter = 5');
    expect(stdout).toContain('stale token refused');
    expect(stdout).toContain('signal aborted: true');
  });

  it('examples/lease-warm.ts', async () => {
    const { code, stdout, stderr } = await run('examples/lease-warm.ts', `sqlite:${join(dir, 'warm.db')}`);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/planned handover: B active \d+ ms after A's release \(token 1 → 2\)/);
    expect(stdout).toContain('isValid() = false');
    expect(stdout).toContain('failover: A active again with token 3');
  });
});
