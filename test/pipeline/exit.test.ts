import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const fixture = fileURLToPath(new URL('./fixtures/hung-execute.ts', import.meta.url));
const root = fileURLToPath(new URL('../..', import.meta.url));

async function run(which: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', fixture, which], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // Under the test's 30 s (the default), so a hang is reported with the child's output, not as a bare test timeout; tsx's start takes seconds under load, the fixture's bound 200 ms.
  const killer = setTimeout(() => child.kill('SIGKILL'), 25_000);
  const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
  clearTimeout(killer);
  return { code, stdout, stderr };
}

describe('a timer that bounds an awaited call keeps the process alive', () => {
  it.each(['timeout', 'deadline'])('a hung execute() ends at its %s with UnknownOutcome, and the process exits 0 (not 13)', async (which) => {
    const { code, stdout, stderr } = await run(which);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    const out = JSON.parse(stdout.trim()) as { name: string; mayHaveExecuted: boolean };
    expect(out.mayHaveExecuted).toBe(true);
    expect(out.name).toMatch(/UnknownOutcome|DeadlineExceeded/);
  });
});
