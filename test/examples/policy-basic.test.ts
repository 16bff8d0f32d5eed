/** examples/policy-basic.ts runs as a real process, rides through a failover, and exits 0 by itself. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/policy-basic.ts', () => {
  it('holds calls through an outage, reports the failover, keeps "maybe" truthful, and exits 0', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/policy-basic.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 25_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(signal, `did not exit by itself\n${stdout}\n${stderr}`).toBeNull();
    expect(code, stderr).toBe(0);
    expect(stdout).toContain('balance from node-a');
    expect(stdout).toContain('failover: node-a#1 → node-b#2');
    expect(stdout).toContain('held calls released: node-b, node-b, node-b');
    expect(stdout).toContain('transfer failed: unknown-outcome, mayHaveExecuted=true, sent 1 time(s)');
    expect(stdout.match(/onDisconnect/g)).toHaveLength(1);
    expect(stdout.match(/onReconnect/g)).toHaveLength(1);
    expect(stdout.trim().endsWith('closed')).toBe(true);
  });
});
