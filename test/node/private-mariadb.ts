/**
 * A PRIVATE MariaDB server for tests that restart the database: `mariadb-install-db` + `mariadbd`
 * on a free port in a temporary directory (never the shared service), owned by the test as a
 * child process.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const MARIADBD = process.env.HOTCOLD_TEST_MARIADBD ?? '/usr/sbin/mariadbd';
const INSTALL_DB = process.env.HOTCOLD_TEST_MARIADB_INSTALL_DB ?? '/usr/bin/mariadb-install-db';

export interface PrivateMariaDb {
  url: string;
  port: number;
  /** SIGSTOP of mariadbd (one process): the database stops answering, sockets stay open. */
  freeze(): void;
  thaw(): void;
  /** SIGTERM (a normal shutdown: every session is ended), wait for the exit, start again. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export function privateMariaDbAvailable(): boolean {
  const ok = existsSync(MARIADBD) && existsSync(INSTALL_DB);
  if (!ok) {
    if (process.env.CI === 'true') throw new Error(`MariaDB binaries are required in CI (CI=true) but ${MARIADBD} or ${INSTALL_DB} is missing`);
    process.stderr.write(`\n\n*** MariaDB binaries NOT found: private-database suites are SKIPPED ***\n\n`);
  }
  return ok;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

async function reachable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export async function startPrivateMariaDb(): Promise<PrivateMariaDb> {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-mdb-'));
  const data = join(dir, 'data');
  const socket = join(dir, 'sock');
  const root = process.getuid?.() === 0 ? ['--user=root'] : [];
  // A temporary directory of its own: two instances bootstrapping at once in the shared /tmp
  // removed each other's temporary tables ("Unknown table 'mysql.tmp_user_sys'").
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);
  await run(INSTALL_DB, ['--no-defaults', `--datadir=${data}`, `--tmpdir=${tmp}`, ...root, '--auth-root-authentication-method=normal', '--skip-test-db']);
  // Picked after the bootstrap (seconds under load), not before it: a port known free that long ago may be another run's by now.
  const port = await freePort();
  let child: ChildProcess | undefined;
  const launch = async (): Promise<void> => {
    child = spawn(
      MARIADBD,
      [
        '--no-defaults',
        `--datadir=${data}`,
        `--tmpdir=${tmp}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--socket=${socket}`,
        ...root,
        '--skip-grant-tables',
        '--innodb-buffer-pool-size=16M',
        '--skip-log-bin',
      ],
      { stdio: 'ignore' },
    );
    const end = Date.now() + 60_000;
    // Ready when its own socket exists too: something answering on the port may be another run's server that took it (ours then exits).
    while (!(existsSync(socket) && (await reachable(port)))) {
      if (Date.now() > end || child.exitCode !== null) throw new Error('private mariadbd did not start');
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const halt = async (signal: NodeJS.Signals): Promise<void> => {
    const c = child;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
    c.kill(signal);
    await exited;
  };
  await launch();
  const { default: mysql } = await import('mysql2/promise');
  const admin = await mysql.createConnection({ host: '127.0.0.1', port, user: 'root' });
  await admin.query('CREATE DATABASE IF NOT EXISTS test');
  await admin.end();
  let stopped = false;
  return {
    url: `mysql://root@127.0.0.1:${port}/test`,
    port,
    freeze: () => {
      child?.kill('SIGSTOP');
    },
    thaw: () => {
      child?.kill('SIGCONT');
    },
    async restart() {
      await halt('SIGTERM');
      await launch();
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        child?.kill('SIGCONT');
        await halt('SIGKILL');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
