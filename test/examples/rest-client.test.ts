/** examples/rest-client.ts runs as a real process, goes through a handover, and exits 0 by itself. */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('examples/rest-client.ts', () => {
  it('survives a planned handover, shows a 404 as axios’s error, keeps the ledger exact, exits 0', async () => {
    const proc = spawn(process.execPath, ['--import', 'tsx', 'examples/rest-client.ts'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => proc.kill('SIGKILL'), 45_000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    expect(signal, `did not exit by itself\n${stdout}\n${stderr}`).toBeNull();
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toContain('transfer: HTTP 201, served by node-a');
    expect(stdout).toContain('4xx as axios gives it: HTTP 404');
    expect(stdout).toContain('transfers during the handover: 20/20 ok');
    expect(stdout).toContain("bob's balance: 25, served by node-b");
    expect(stdout).toContain('ledger: 21 entries, 21 distinct');
    expect(stdout.trim().endsWith('closed')).toBe(true);
  }, 60_000);
});
