/**
 * Minimal case found by the stress suite's `conn` fault: a PostgreSQL backend terminated while a
 * client is checked out for `store.transaction()` must fail that transaction, not crash the
 * process with an unhandled 'error' event from the pg Client.
 */
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { databaseAvailable, PG_URL } from '../../support/services.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const hasPg = await databaseAvailable('postgres');
// Regression: postgresStore.transaction() once checked a client out without an 'error'
// listener, so a backend terminated mid-transaction crashed the process.
const enabled = hasPg;

describe.runIf(enabled)('postgresStore: backend terminated inside a transaction', () => {
  it('rejects the transaction and the process lives on', async () => {
    const appName = `hcs_term_${process.pid}_${Date.now() % 1e6}`;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'pg-terminate-child.ts'), PG_URL, appName, `stress_term_${process.pid}`], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const admin = new pg.Client({ connectionString: PG_URL });
    await admin.connect();
    try {
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`child never reached the transaction: ${err}`)), 60_000);
        child.stdout.on('data', (d: Buffer) => {
          out += d.toString();
          if (out.includes('in-tx')) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      const killed = await admin.query('SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1', [appName]);
      expect(killed.rowCount).toBeGreaterThan(0);
      const code = await exited;
      expect(err).not.toContain("Unhandled 'error' event");
      expect(out).toContain('rejected');
      expect(code).toBe(0);
    } finally {
      child.kill('SIGKILL');
      await admin.end();
    }
  }, 90_000);
});
