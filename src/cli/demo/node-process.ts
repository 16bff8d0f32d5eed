import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseJsonLine, spawnManaged, type ManagedChild } from './child.js';
import { httpGetJson } from './http-get.js';

/**
 * A `hotcold node` child process: the CLI's own `node` command, run from this very installation
 * (main.ts through tsx from the sources, main.js from a build).
 */

export interface NodeProcessOptions {
  machine: string;
  db: string;
  updateIntervalMs: number;
  waitIntervalMs: number;
  /** Port to listen on; default 0 (any free port). A restarted node passes its old one. */
  port?: number;
  /** Extra CLI arguments (e.g. table names). */
  extraArgs?: readonly string[];
  readyTimeoutMs?: number;
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
}

export interface NodeProcess {
  readonly machine: string;
  readonly url: string;
  readonly port: number;
  readonly child: ManagedChild;
  /** `GET /health` straight to the node (not through the balancer). */
  health(timeoutMs?: number): Promise<{ status: number; body: Record<string, unknown> | undefined } | undefined>;
}

/** The command line that runs this installation's `hotcold` CLI. */
/**
 * How long a starting node may take to print its `listening` line: a bound for a child that is
 * stuck, not a performance target. From sources every child first compiles the node's modules
 * with tsx, which on a loaded 2-core machine took more than 15 s.
 */
const NODE_READY_TIMEOUT_MS = 60_000;

export function cliCommand(): { command: string; args: string[]; cwd: string } {
  const root = fileURLToPath(new URL('../../../', import.meta.url));
  const fromSources = import.meta.url.endsWith('.ts');
  const main = fileURLToPath(new URL(fromSources ? '../main.ts' : '../main.js', import.meta.url));
  if (!existsSync(main)) throw new Error(`cannot find the hotcold CLI next to the demo (${main})`);
  // From sources, the child needs the same TypeScript loader this process runs under.
  return { command: process.execPath, args: fromSources ? ['--import', 'tsx', main] : [main], cwd: root };
}

export async function spawnNodeProcess(options: NodeProcessOptions): Promise<NodeProcess> {
  const cli = cliCommand();
  const args = [
    ...cli.args,
    'node',
    '--port',
    String(options.port ?? 0),
    '--machine',
    options.machine,
    '--update-interval',
    String(options.updateIntervalMs),
    '--wait-interval',
    String(options.waitIntervalMs),
    '--mode',
    'warm',
    '--app',
    'ledger',
    // A request line per call would cost the load (and the measured failover) for nothing here;
    // faults are still logged, and kept in the child's last lines for diagnostics.
    '--log-level',
    'warn',
    ...(options.extraArgs ?? []),
  ];
  const child = spawnManaged(options.machine, cli.command, args, {
    cwd: cli.cwd,
    // The database URL may carry a password: pass it in the environment, not in argv (`ps`).
    env: { ...process.env, FORCE_COLOR: '0', HOTCOLD_DB: options.db },
    ...(options.onLine ? { onLine: options.onLine } : {}),
  });
  let port: number;
  try {
    port = await child.waitForLine((line) => {
      const event = parseJsonLine(line);
      return event?.event === 'listening' && typeof event.port === 'number' ? event.port : undefined;
    }, options.readyTimeoutMs ?? NODE_READY_TIMEOUT_MS);
  } catch (error) {
    await child.stop({ signal: 'SIGKILL' });
    throw error;
  }
  const url = `http://127.0.0.1:${port}`;
  return {
    machine: options.machine,
    url,
    port,
    child,
    async health(timeoutMs = 500) {
      const answer = await httpGetJson(`${url}/health`, timeoutMs);
      return answer && { status: answer.status, body: answer.body };
    },
  };
}
