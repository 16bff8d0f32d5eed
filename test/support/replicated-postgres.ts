/**
 * A PRIVATE replicated PostgreSQL 15 for failover tests: a primary and a streaming replica
 * (`pg_basebackup -R`) built from the Debian binaries on free ports in one temporary directory,
 * with two TCP proxies:
 *
 * - the CLIENT endpoint (`url`): what the application's connection string names; a failover
 *   repoints it to the promoted replica, as a virtual IP or a cloud endpoint does;
 * - the REPLICATION path: the replica streams WAL through it, so `stallReplication()` is real
 *   replication lag — WAL the primary committed waits in its socket buffers and is lost if the
 *   primary dies meanwhile (`pg_wal_replay_pause()` would not do: promotion replays every WAL
 *   record the replica already received).
 *
 * `failover()` is what an HA manager does: `pg_ctl stop -m immediate` on the primary,
 * `pg_ctl promote` on the replica, the endpoint repointed. `addReplica()` builds the next replica
 * from the new primary (its timeline is one higher). `stop()` ends every instance and removes the
 * directory; call it in `finally`/`afterAll`.
 */
import { chmodSync, chownSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { children, command, freePort, run } from './private-postgres.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

/** `async`: commits return once local; `on`/`remote_apply`: commits wait for the synchronous standby. */
export type PgReplicationMode = 'async' | 'on' | 'remote_apply';

interface PgInstance {
  name: string;
  port: number;
  data: string;
  running: boolean;
  /** The proxy this instance's WAL stream comes through (a replica's). */
  replication?: TcpProxy;
}

/**
 * `kill-first`: a crash (the primary dies, then the replica is promoted and the endpoint moves);
 * `switch-first`: the replica is promoted and the endpoint moved (cutting every connection)
 * while the old primary still runs, then it dies; `partition`: the replica is promoted while the
 * old primary still serves, then the old primary stops answering (SIGSTOP: sockets stay open,
 * statements hang), the endpoint moves WITHOUT cutting the hanging connections, and the old
 * primary is killed 1.5 s later (it never answers again).
 */
export type FailoverOrder = 'kill-first' | 'switch-first' | 'partition';

export interface ReplicatedPostgres {
  /** The client endpoint (through the proxy that follows the primary). */
  readonly url: string;
  /** The current primary's own URL (not through the proxy): for the test's own reads. */
  primaryUrl(): string;
  readonly mode: PgReplicationMode;
  /** Stops shipping WAL to the replica (both directions of its stream wait). */
  stallReplication(): void;
  resumeReplication(): void;
  /**
   * Promotes the replica and repoints the endpoint; the old primary is killed (immediate) FIRST
   * (`order: 'kill-first'`, a crash) or LAST (`'switch-first'`: the HA manager lost sight of a
   * running primary, promoted the replica and moved the endpoint, then the old primary dies —
   * clients reach only one of them at a time either way). Resolves to the new timeline.
   */
  failover(order?: FailoverOrder): Promise<number>;
  /** Builds a new streaming replica of the current primary and waits until it streams. */
  addReplica(): Promise<void>;
  /** Resolves once the replica has replayed all WAL the primary had written when called. */
  caughtUp(): Promise<void>;
  /** The current primary's timeline (the WAL insert timeline: right after a promotion too). */
  timeline(): Promise<number>;
  stop(): Promise<void>;
}

async function query<T extends Record<string, unknown>>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => undefined);
  await client.connect();
  try {
    return (await client.query(text)).rows as T[];
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function startReplicatedPostgres(mode: PgReplicationMode): Promise<ReplicatedPostgres> {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-pgrepl-'));
  chmodSync(dir, 0o700);
  const asRoot = process.getuid?.() === 0;
  const owner = asRoot ? { uid: Number((await run('id', ['-u', 'postgres'])).stdout.trim()), gid: Number((await run('id', ['-g', 'postgres'])).stdout.trim()) } : undefined;
  if (owner) chownSync(dir, owner.uid, owner.gid);
  const instances: PgInstance[] = [];
  const proxies: TcpProxy[] = [];
  let primary: PgInstance | undefined;
  let replica: PgInstance | undefined;
  let endpoint: TcpProxy | undefined;
  let counter = 0;

  const serverOptions = (port: number): string => {
    const sync = mode === 'async' ? '' : ` -c synchronous_standby_names=* -c synchronous_commit=${mode}`;
    return `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=60 -c wal_sender_timeout=5s -c wal_receiver_timeout=5s -c wal_retrieve_retry_interval=200ms${sync}`;
  };
  const urlOf = (port: number): string => `postgres://postgres@127.0.0.1:${port}/postgres`;
  const start = async (instance: PgInstance): Promise<void> => {
    // Picked now, not before initdb or pg_basebackup (seconds under load): a port known free that long ago may be another run's by now.
    instance.port = await freePort();
    await run(...command('pg_ctl', ['-D', instance.data, '-o', serverOptions(instance.port), '-l', `${instance.data}.log`, '-w', '-t', '60', 'start']));
    instance.running = true;
  };
  const stopInstance = async (instance: PgInstance): Promise<void> => {
    if (!instance.running) return;
    instance.running = false;
    await run(...command('pg_ctl', ['-D', instance.data, '-m', 'immediate', '-w', '-t', '30', 'stop'])).catch(() => undefined);
  };

  const cluster: ReplicatedPostgres = {
    mode,
    get url() {
      return urlOf((endpoint as TcpProxy).port);
    },
    primaryUrl: () => urlOf((primary as PgInstance).port),
    stallReplication: () => replica?.replication?.stall(),
    resumeReplication: () => replica?.replication?.flow(),
    async caughtUp() {
      const lsn = (await query<{ lsn: string }>(cluster.primaryUrl(), 'SELECT pg_current_wal_lsn()::text AS lsn'))[0]?.lsn;
      await waitFor('the replica to catch up', async () => {
        const rows = await query<{ ok: boolean }>(cluster.primaryUrl(), `SELECT bool_or(replay_lsn >= '${lsn}'::pg_lsn) AS ok FROM pg_stat_replication`);
        return rows[0]?.ok === true;
      });
    },
    async timeline() {
      const rows = await query<{ tl: string }>(cluster.primaryUrl(), "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int AS tl");
      return Number(rows[0]?.tl);
    },
    async addReplica() {
      const source = primary as PgInstance;
      const replication = await startTcpProxy(source.port);
      proxies.push(replication);
      const instance: PgInstance = { name: `n${++counter}`, port: 0, data: '', running: false, replication };
      instance.data = join(dir, instance.name);
      instances.push(instance);
      await run(...command('pg_basebackup', ['-h', '127.0.0.1', '-p', String(replication.port), '-U', 'postgres', '-D', instance.data, '-R', '-X', 'stream', '-c', 'fast', '--no-sync']));
      await start(instance);
      replica = instance;
      await waitFor('the replica to stream', async () => {
        const rows = await query<{ n: string }>(cluster.primaryUrl(), "SELECT count(*) AS n FROM pg_stat_replication WHERE state = 'streaming'");
        return Number(rows[0]?.n) >= 1;
      });
    },
    async failover(order = 'kill-first') {
      const old = primary as PgInstance;
      const next = replica;
      if (!next) throw new Error('no replica to promote');
      const processes = (): number[] => {
        try {
          const root = Number(readFileSync(join(old.data, 'postmaster.pid'), 'utf8').split('\n')[0]);
          return [root, ...children(root)];
        } catch {
          return [];
        }
      };
      const signal = (pids: number[], sig: NodeJS.Signals): void => {
        for (const pid of pids) {
          try {
            process.kill(pid, sig);
          } catch {
            // gone
          }
        }
      };
      if (order === 'kill-first') await stopInstance(old);
      // What the replica has not received by now is lost with the old primary.
      next.replication?.cut();
      await next.replication?.close();
      await run(...command('pg_ctl', ['-D', next.data, '-w', '-t', '60', 'promote']));
      primary = next;
      replica = undefined;
      // A partition: the old primary served until the promotion was done, then stops answering.
      const frozen = order === 'partition' ? processes() : [];
      signal(frozen, 'SIGSTOP');
      (endpoint as TcpProxy).repoint(next.port, { keep: order === 'partition' });
      if (order === 'switch-first') await stopInstance(old);
      if (order === 'partition') {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        // Killed while frozen: it never answers another statement.
        signal([...frozen, ...processes()], 'SIGKILL');
        old.running = false;
        signal(frozen, 'SIGCONT');
      }
      return cluster.timeline();
    },
    async stop() {
      await Promise.all(instances.map(stopInstance));
      await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    const first: PgInstance = { name: `n${++counter}`, port: 0, data: '', running: false };
    first.data = join(dir, first.name);
    instances.push(first);
    await run(...command('initdb', ['-D', first.data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']));
    await start(first);
    primary = first;
    endpoint = await startTcpProxy(first.port);
    proxies.push(endpoint);
    await cluster.addReplica();
    return cluster;
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
}
