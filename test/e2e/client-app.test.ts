/**
 * examples/client-app.ts, run as users run it (tsx, a child process) against two `hotcold node`
 * processes behind the dev balancer; the hot node is SIGKILLed while the app is paying. Every
 * payment the app saw acknowledged must be in the ledger exactly once.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { startBalancer } from '../../src/cli/demo/balancer.js';
import { createSqliteDatabase } from '../../src/cli/demo/database.js';
import { spawnNodeProcess, type NodeProcess } from '../../src/cli/demo/node-process.js';
import { Resources } from '../../src/cli/demo/resources.js';
import { readLedger } from '../../src/testing/ledger-app.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

async function hotNode(nodes: NodeProcess[]): Promise<NodeProcess> {
  for (let i = 0; i < 200; i++) {
    for (const node of nodes) if ((await node.health(300))?.status === 200) return node;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error('no node became active');
}

describe('examples/client-app.ts', () => {
  it('pays through a crash failover: every acknowledged payment in the ledger exactly once', async () => {
    const resources = new Resources();
    try {
      const db = await createSqliteDatabase();
      resources.add('db', () => db.dispose());
      const start = async (machine: string): Promise<NodeProcess> => {
        const node = await spawnNodeProcess({ machine, db: db.url, updateIntervalMs: 200, waitIntervalMs: 1000 });
        resources.add(machine, () => node.child.stop({ signal: 'SIGKILL' }));
        return node;
      };
      const nodes = await Promise.all([start('node-a'), start('node-b')]);
      await hotNode(nodes);
      const balancer = await startBalancer('dev', nodes.map((n) => ({ name: n.machine, port: n.port })), 100);
      resources.add('balancer', () => balancer.stop());

      const app = spawn(process.execPath, ['--import', 'tsx', 'examples/client-app.ts', '400'], {
        cwd: root,
        env: { ...process.env, HOTCOLD_URL: balancer.url },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      resources.add('client app', async () => {
        if (app.exitCode === null) app.kill('SIGKILL');
      });
      let stdout = '';
      let stderr = '';
      let killed = false;
      let killing: Promise<void> | undefined;
      app.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      app.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
        if (!killed && stderr.includes('connection: connected')) {
          killed = true;
          // The node hot now, not the one hot before the app started: under load a lease can lapse and move meanwhile.
          killing = new Promise((resolve) => setTimeout(resolve, 300)).then(async () => (await hotNode(nodes)).child.signal('SIGKILL'));
          killing.catch(() => undefined); // awaited below
        }
      });
      const code = await new Promise<number | null>((resolve) => app.once('exit', resolve));
      await killing;
      expect(code, `${stdout}\n${stderr}`).toBe(0);
      expect(killed).toBe(true);
      expect(stderr).toMatch(/failover: node-\w -> node-\w/);
      const result = JSON.parse(stdout.trim()) as { done: number; failed: unknown[]; bobBalance: number; keys: string[] };
      expect(result.failed).toEqual([]);
      expect(result.done).toBe(400);
      expect(result.bobBalance).toBe(400);
      const ledger = await readLedger({ dialect: 'sqlite', query: (sql: string) => db.query(sql), execute: async () => ({ changes: 0 }) });
      const keys = ledger.map((e) => e.idemKey);
      expect(keys.length).toBe(400);
      expect(new Set(keys)).toEqual(new Set(result.keys));
    } finally {
      await resources.disposeAll();
    }
    // Two `hotcold node` processes and the app, each through tsx (seconds each under load), and 400 payments.
  }, 120_000);
});
