/**
 * `hotcold demo` as users run it: a child process of the CLI, embedded SQLite, dev balancer.
 * The JSON summary must show nothing lost and nothing duplicated; a planned switchover must cost
 * zero failed calls; Ctrl-C must leave no process and no temp folder behind.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/cli/demo/node-process.js';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function demo(args: string[], onStderr?: (text: string, child: ReturnType<typeof spawn>) => void, env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const cli = cliCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cli.command, [...cli.args, 'demo', ...args], { cwd: cli.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      onStderr?.(stderr, child);
    });
    // The CLI and its two nodes each through tsx (a node alone may take up to 60 s to start under load).
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

function pidsIn(text: string): number[] {
  return [...text.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('hotcold demo', () => {
  it('crash failover: --json summary with nothing lost or duplicated, exit 0', async () => {
    const run = await demo(['--json', '--seconds', '4']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    process.stderr.write(`demo --json: ${run.stdout}`);
    expect(summary).toMatchObject({ scenario: 'crash', db: 'sqlite', lb: 'dev', lost: 0, duplicates: 0, misclassified: 0, ok: true });
    for (const field of ['calls', 'lost', 'duplicates', 'failedCalls', 'outageMs', 'failovers']) expect(typeof summary[field], field).toBe('number');
    expect(summary.calls as number).toBeGreaterThan(0);
    expect(summary.failovers as number).toBeGreaterThanOrEqual(1);
    for (const pid of pidsIn(run.stderr)) expect(alive(pid)).toBe(false);
    const dir = /sqlite:(\/\S+)\/lease\.db/.exec(run.stderr)?.[1];
    expect(dir && existsSync(dir)).toBe(false);
  }, 120_000);

  it('planned switchover: --planned --json shows zero failed calls', async () => {
    const run = await demo(['--planned', '--json', '--seconds', '4']);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim()) as Record<string, unknown>;
    process.stderr.write(`demo --planned --json: ${run.stdout}`);
    expect(summary).toMatchObject({ scenario: 'planned', lost: 0, duplicates: 0, failedCalls: 0, ok: true });
  }, 120_000);

  it('Ctrl-C (SIGINT) stops the nodes and removes the temp folder', async () => {
    let sent = false;
    const run = await demo(['--json', '--seconds', '30'], (text, child) => {
      // Interrupt once both nodes run and the load has started.
      if (!sent && pidsIn(text).length >= 2 && text.includes('balancer')) {
        sent = true;
        setTimeout(() => child.kill('SIGINT'), 500);
      }
    });
    expect(sent, run.stderr).toBe(true);
    expect(run.code).toBe(130);
    expect(run.stdout).toBe('');
    const pids = pidsIn(run.stderr);
    expect(pids.length).toBeGreaterThanOrEqual(2);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const dir = /sqlite:(\/\S+)\/lease\.db/.exec(run.stderr)?.[1];
    expect(dir).toBeDefined();
    expect(existsSync(dir ?? '/')).toBe(false);
  }, 120_000);

  it('--lb haproxy without HAProxy installed: a clear error before anything starts', async () => {
    const run = await demo(['--lb', 'haproxy'], undefined, { HAPROXY_BIN: '/nonexistent/haproxy' });
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/HAProxy is not installed.*dev balancer/);
    expect(run.stdout).toBe('');
  }, 30_000);

  it('rejects unknown options with exit status 2', async () => {
    const run = await demo(['--bogus']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--bogus');
  }, 30_000);
});
