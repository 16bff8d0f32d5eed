import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { setTimer, type TimerHandle } from '../../shared/timer.js';
import { createInterface } from 'node:readline';

/**
 * A child process this program owns: its output lines are kept (bounded) for error messages,
 * and {@link ManagedChild.stop} always ends it, escalating to SIGKILL.
 */
export interface ManagedChild {
  readonly name: string;
  readonly process: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  /** True once the process has exited. */
  hasExited(): boolean;
  /** The last lines of stdout/stderr, for diagnostics. */
  tail(): string;
  /** Resolves with the first stdout line for which `match` returns a value. */
  waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T>;
  signal(sig: NodeJS.Signals): void;
  /** Sends `sig` (default SIGTERM), then SIGKILL after `graceMs`; resolves once exited. */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<void>;
}

const MAX_TAIL_LINES = 60;

/**
 * Last line of defence: a child still running when this process exits (an uncaught error, a
 * second Ctrl-C) is killed, so a crashed demo or test never leaves nodes holding ports. Each child
 * owns its own hook, removed when it exits: no registry outlives the children.
 */
function track(child: ChildProcess): void {
  const killOnExit = (): void => {
    try {
      child.kill('SIGKILL');
    } catch {
      // Already gone.
    }
  };
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
}

export function spawnManaged(
  name: string,
  command: string,
  args: readonly string[],
  options: SpawnOptions & { onLine?: (line: string, stream: 'stdout' | 'stderr') => void } = {},
): ManagedChild {
  const { onLine, ...spawnOptions } = options;
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOptions });
  if (child.pid === undefined) {
    // spawn reports ENOENT asynchronously; the pid is missing synchronously in that case.
    child.on('error', () => undefined);
    throw new Error(`could not start ${name} (${command})`);
  }
  track(child);
  const lines: string[] = [];
  const listeners = new Set<(line: string) => void>();
  let exitedFlag = false;
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, sig) => {
      exitedFlag = true;
      resolve(code ?? sig ?? 'unknown');
    });
    child.once('error', () => {
      exitedFlag = true;
      resolve('spawn-error');
    });
  });
  const keep = (stream: 'stdout' | 'stderr') => (line: string) => {
    lines.push(`${stream === 'stderr' ? '! ' : ''}${line}`);
    if (lines.length > MAX_TAIL_LINES) lines.shift();
    onLine?.(line, stream);
    if (stream === 'stdout') for (const listener of listeners) listener(line);
  };
  if (child.stdout) createInterface({ input: child.stdout }).on('line', keep('stdout'));
  if (child.stderr) createInterface({ input: child.stderr }).on('line', keep('stderr'));

  const signal = (sig: NodeJS.Signals): void => {
    if (!exitedFlag) {
      try {
        child.kill(sig);
      } catch {
        // Already gone between the check and the kill.
      }
    }
  };

  return {
    name,
    process: child,
    pid: child.pid,
    exited,
    hasExited: () => exitedFlag,
    tail: () => lines.join('\n'),
    signal,
    waitForLine<T>(match: (line: string) => T | undefined, timeoutMs: number): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        const cleanup = (): void => {
          timer.clear();
          listeners.delete(listener);
        };
        const listener = (line: string): void => {
          const value = match(line);
          if (value !== undefined) {
            cleanup();
            resolve(value);
          }
        };
        const timer = setTimer(() => {
          cleanup();
          reject(new Error(`${name}: no expected output within ${timeoutMs} ms\n${lines.join('\n')}`));
        }, timeoutMs);
        listeners.add(listener);
        void exited.then((code) => {
          if (!listeners.has(listener)) return;
          cleanup();
          reject(new Error(`${name} exited (${code}) before it was ready\n${lines.join('\n')}`));
        });
      });
    },
    async stop({ signal: sig = 'SIGTERM', graceMs = 3000 } = {}): Promise<void> {
      if (exitedFlag) return;
      // A stopped (SIGSTOP) process cannot act on SIGTERM until it runs again.
      signal('SIGCONT');
      signal(sig);
      let timer: TimerHandle | undefined;
      const escalated = new Promise<void>((resolve) => {
        timer = setTimer(() => {
          signal('SIGKILL');
          resolve();
        }, graceMs);
      });
      await Promise.race([exited, escalated]);
      await exited;
      timer?.clear();
    },
  };
}

/** Parses a JSON object line, or undefined for anything else (logs, banners). */
export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  const trimmed = line.trim();
  if (!trimmed.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(trimmed);
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
