/** examples/grpc-client.ts runs as a real process: a planned switchover, every transfer exactly once, exits 0 by itself. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/grpc-client.ts', () => {
  it('goes through a planned switchover with every call acknowledged exactly once, and exits 0', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/grpc-client.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 50_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(signal, `did not exit by itself\n${stdout}\n${stderr}`).toBeNull();
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('failover: a#1 → b#2');
    expect(stdout).toContain('ledger: 20 rows, 20 acknowledged, each exactly once: true');
    expect(stdout).not.toContain('failed:');
    expect(stdout.trim().endsWith('closed')).toBe(true);
  }, 60_000);
});
