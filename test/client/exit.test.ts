/** A process that used a client exits by itself after close(): no timer, socket or subscription left. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('./fixtures/exit-child.ts', import.meta.url));

describe('close()', () => {
  it('lets the process exit by itself', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', child], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(signal, `killed: it did not exit by itself\n${stderr}`).toBeNull();
    expect(code, stderr).toBe(0);
    const report = JSON.parse(stdout.trim()) as { stalled: string; events: number; state: string };
    expect(report).toMatchObject({ stalled: 'ClientClosedException', state: 'closed' });
    expect(report.events).toBeGreaterThan(3);
  });
});
