/** Shared helpers of the lease suites (not a test file). */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { firstValueFrom, filter, type Observable } from 'rxjs';
import { expect, vi } from 'vitest';
import { runLeaseCommand } from '../../src/cli/lease-command.js';
import type { LeaseEvent } from '../../src/lease/types.js';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export function uniqueTable(prefix = 'lease_t'): string {
  return `${prefix}_${randomBytes(5).toString('hex')}`;
}

export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function waitFor(predicate: () => boolean | Promise<boolean>, timeoutMs: number, stepMs = 5): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!(await predicate())) {
    if (performance.now() > until) throw new Error(`condition not met within ${timeoutMs} ms`);
    await delay(stepMs);
  }
}

export function nextEvent<T extends LeaseEvent['type']>(
  events$: Observable<LeaseEvent>,
  type: T,
): Promise<Extract<LeaseEvent, { type: T }>> {
  return firstValueFrom(events$.pipe(filter((e): e is Extract<LeaseEvent, { type: T }> => e.type === type)));
}

/** Busy-waits synchronously: no timer, no I/O callback can run meanwhile. */
export function blockEventLoop(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // spin
  }
}

/** Spawns a TypeScript file as a real Node process (tsx), cwd = repo root; `stdin: true` gives it a stdin pipe. */
export function spawnTs(file: string, args: string[], options: { stdin?: boolean } = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', file, ...args], { cwd: ROOT, stdio: [options.stdin === true ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
}

/**
 * Resolves with the first stdout line (parsed as JSON) a child prints. The default bound only
 * guards against a hang: the children start through tsx, which took more than 20 s on the loaded
 * 2-core machine (60 s, as src/cli/demo/node-process.ts and test/support/rest-node-process.ts give
 * the same kind of child). Tests that wait for a child's first line set their own timeout above it.
 */
export function firstLine(child: ChildProcess, timeoutMs = 60_000): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    let buffer = '';
    let stderr = '';
    const timer = setTimeout(() => reject(new Error(`child printed nothing within ${timeoutMs} ms: ${stderr}`)), timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.stdout?.on('data', (d: Buffer) => {
      buffer += d.toString();
      const nl = buffer.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`child exited (${code}) before printing: ${stderr}`));
    });
  });
}

export function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

/** Runs `hotcold` (src/cli/main.ts) as a child process; resolves with exit code and output. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawnTs('src/cli/main.ts', args);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Active handles minus timers vitest itself may hold; compare against a baseline. */
export function activeResources(): string[] {
  return process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap');
}

/**
 * Runs `hotcold lease …` in this process with stdout/stderr captured: spawning tsx costs 1.5 s or
 * more per call on a loaded box, so only the checks that need a real process spawn one.
 */
export async function runLeaseCliInProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const [command, ...rest] = args;
  expect(command).toBe('lease');
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    stdout += String(chunk);
    return true;
  });
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
    stderr += String(chunk);
    return true;
  });
  try {
    const code = await runLeaseCommand(rest);
    return { code, stdout, stderr };
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
}
