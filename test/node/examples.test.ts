import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));

describe('examples/node-app.ts', () => {
  it('runs to completion by itself (nothing left open) and shows dedup, drain and the feed', async () => {
    const { stdout, code } = await new Promise<{ stdout: string; stderr: string; code: number | null }>((resolve) => {
      const child = execFile(process.execPath, ['--import', 'tsx', 'examples/node-app.ts'], { cwd: root, timeout: 60_000 }, (error, stdout, stderr) =>
        resolve({ stdout, stderr, code: error ? ((error as { code?: number }).code ?? 1) : 0 }),
      );
      child.stdin?.end();
    });
    expect(code).toBe(0);
    expect(stdout).toContain('order-1: {"accepted":true,"seq":1}; repeated: {"accepted":true,"seq":1}');
    expect(stdout).toContain('after drain: node-a stopped, node-b active; orders: 3');
    expect(stdout).toMatch(/feed #1: 3 apples\nfeed #2: 2 pears\nfeed #3: 5 plums/);
    // Beyond the child's own 60 s limit: the test must not end first (the 30 s default did).
  }, 90_000);
});
