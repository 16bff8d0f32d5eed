/**
 * Spawns test/support/rest-node-main.ts as a child process (through tsx, like the CLI's node
 * processes in the demo) and waits for its `listening` line.
 */
import { fileURLToPath } from 'node:url';
import { parseJsonLine, spawnManaged, type ManagedChild } from '../../src/cli/demo/child.js';

export interface RestNodeProcess {
  readonly machine: string;
  readonly url: string;
  readonly port: number;
  readonly child: ManagedChild;
}

export interface RestNodeProcessOptions {
  machine: string;
  /** SQLite file shared by the pair. */
  db: string;
  port?: number;
  updateIntervalMs?: number;
  waitIntervalMs?: number;
}

const MAIN = fileURLToPath(new URL('./rest-node-main.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

export async function spawnRestNode(options: RestNodeProcessOptions): Promise<RestNodeProcess> {
  const child = spawnManaged(options.machine, process.execPath, ['--import', 'tsx', MAIN], {
    cwd: ROOT,
    env: {
      ...process.env,
      HOTCOLD_DB: options.db,
      HOTCOLD_MACHINE: options.machine,
      HOTCOLD_PORT: String(options.port ?? 0),
      HOTCOLD_UPDATE_MS: String(options.updateIntervalMs ?? 200),
      HOTCOLD_WAIT_MS: String(options.waitIntervalMs ?? 1000),
    },
  });
  let port: number;
  try {
    // 60 s, as src/cli/demo/node-process.ts: a child compiling the node's modules through tsx took more than 15 s on a loaded 2-core machine.
    port = await child.waitForLine((line) => {
      const event = parseJsonLine(line);
      return event?.event === 'listening' && typeof event.port === 'number' ? event.port : undefined;
    }, 60_000);
  } catch (error) {
    await child.stop({ signal: 'SIGKILL' });
    throw error;
  }
  return { machine: options.machine, url: `http://127.0.0.1:${port}`, port, child };
}
