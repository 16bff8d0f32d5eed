import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));

/** A `hotcold node` child process, with its JSON stdout lines collected. */
export interface NodeProcess {
  child: ChildProcess;
  lines: Record<string, unknown>[];
  port: number;
  url: string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  waitFor(match: (line: Record<string, unknown>) => boolean, timeoutMs?: number, what?: string): Promise<Record<string, unknown>>;
  stderr(): string;
}

export async function spawnNode(args: string[]): Promise<NodeProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'node', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  const lines: Record<string, unknown>[] = [];
  const listeners = new Set<() => void>();
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
  createInterface({ input: child.stdout }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      lines.push({ event: 'garbage', text });
    }
    for (const l of [...listeners]) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      for (const l of [...listeners]) l();
      resolve({ code, signal });
    });
  });
  const waitFor: NodeProcess['waitFor'] = (match, timeoutMs = 20_000, what = 'line') =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const found = lines.find(match);
        if (found) {
          done();
          resolve(found);
        } else if (child.exitCode !== null || child.signalCode !== null) {
          done();
          reject(new Error(`node exited before ${what}; stderr: ${err}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`timed out waiting for ${what}; lines: ${JSON.stringify(lines)}; stderr: ${err}`));
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      check();
    });
  // A hang guard: the node starts through tsx, which took more than 30 s on the loaded 2-core
  // machine (60 s, as src/cli/demo/node-process.ts gives the same kind of child). Tests that start
  // nodes set their own timeout above 60 s per node.
  const listening = await waitFor((l) => l.event === 'listening', 60_000, 'listening');
  const port = listening.port as number;
  return { child, lines, port, url: `http://127.0.0.1:${port}`, exited, waitFor, stderr: () => err };
}
