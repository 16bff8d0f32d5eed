/**
 * A PRIVATE PostgreSQL server for tests that need what the shared service must not be changed
 * for: freezing it (SIGSTOP), restarting it, cutting it, or password authentication (the shared
 * server's `trust` rules never check one). Started from the Debian binaries on a free port in a
 * temporary directory, run as the `postgres` OS user when the tests run as root (initdb refuses
 * root). `stop()` ends it and removes the directory.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

export const run = promisify(execFile);
export const PG_BIN = process.env.HOTCOLD_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgresOptions {
  /**
   * Password of the superuser `postgres`: authentication is then scram-sha-256 over TCP. Without
   * one, `trust`.
   */
  password?: string;
  /**
   * Server settings given at start (`-c name=value` each), e.g. `synchronous_standby_names=absent`
   * for a primary whose commits wait for a standby that never connects.
   */
  settings?: Readonly<Record<string, string>>;
}

export interface PrivatePostgres {
  port: number;
  /** The superuser's URL (with the password, if any). */
  url: string;
  /** A URL for another user, password or database (defaults: `postgres`, the server's password, `postgres`). */
  urlFor(user?: string, password?: string, database?: string): string;
  /** SIGSTOP of the postmaster and every backend: the database stops answering, sockets stay open. */
  freeze(): void;
  thaw(): void;
  /** `pg_ctl restart -m fast`: every session is terminated (57P01), then the server comes back. */
  restart(): Promise<void>;
  /**
   * A crash: `pg_ctl stop -m immediate` (every process quits at once, nothing is flushed: WAL still
   * in shared buffers is lost), then a start, which runs crash recovery.
   */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

/** True when the binaries are there; loud skip otherwise, failure with CI=true. */
export function privatePostgresAvailable(): boolean {
  const ok = existsSync(join(PG_BIN, 'initdb')) && existsSync(join(PG_BIN, 'pg_ctl'));
  if (!ok) {
    if (process.env.CI === 'true') throw new Error(`PostgreSQL binaries are required in CI (CI=true) but are missing in ${PG_BIN}`);
    process.stderr.write(`\n\n*** PostgreSQL binaries NOT found in ${PG_BIN}: private-database suites are SKIPPED ***\n\n`);
  }
  return ok;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

const asRoot = (): boolean => process.getuid?.() === 0;

/** initdb refuses to run as root: then run the binaries as the `postgres` system user. */
export function command(bin: string, args: string[]): [string, string[]] {
  if (asRoot()) return ['runuser', ['-u', 'postgres', '--', join(PG_BIN, bin), ...args]];
  return [join(PG_BIN, bin), args];
}

export function children(pid: number): number[] {
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) found.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return found;
}

export async function startPrivatePostgres(options: PrivatePostgresOptions = {}): Promise<PrivatePostgres> {
  const { password, settings = {} } = options;
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-pg-'));
  chmodSync(dir, 0o700);
  const owner = asRoot() ? { uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()), gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()) } : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const data = join(dir, 'data');
  const auth = ['--auth=trust'];
  if (password !== undefined) {
    const pwfile = join(dir, 'pw');
    writeFileSync(pwfile, `${password}\n`);
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    auth.splice(0, 1, '--auth=scram-sha-256', `--pwfile=${pwfile}`);
  }
  await run(...command('initdb', ['-D', data, '-U', 'postgres', ...auth, '-E', 'UTF8', '--no-sync']));
  const port = await freePort();
  const extra = Object.entries(settings)
    .map(([name, value]) => ` -c ${name}=${value}`)
    .join('');
  const serverOptions = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=50${extra}`;
  await run(...command('pg_ctl', ['-D', data, '-o', serverOptions, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']));
  const postmaster = (): number => Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const signalAll = (signal: NodeJS.Signals): void => {
    const root = postmaster();
    // The postmaster first, so it forks no new backend while we go through its children.
    for (const pid of [root, ...children(root)]) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone already
      }
    }
  };
  const urlFor = (user = 'postgres', pw = password, database = 'postgres'): string =>
    `postgres://${encodeURIComponent(user)}${pw === undefined ? '' : `:${encodeURIComponent(pw)}`}@127.0.0.1:${port}/${database}`;
  let stopped = false;
  return {
    port,
    url: urlFor(),
    urlFor,
    freeze: () => signalAll('SIGSTOP'),
    thaw: () => signalAll('SIGCONT'),
    async restart() {
      await run(...command('pg_ctl', ['-D', data, '-o', serverOptions, '-l', join(dir, 'log'), '-m', 'fast', '-w', '-t', '60', 'restart']));
    },
    async crash() {
      await run(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '60', 'stop']));
      await run(...command('pg_ctl', ['-D', data, '-o', serverOptions, '-l', join(dir, 'log'), '-w', '-t', '60', 'start']));
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      try {
        signalAll('SIGCONT');
        await run(...command('pg_ctl', ['-D', data, '-m', 'immediate', '-w', '-t', '30', 'stop']));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
