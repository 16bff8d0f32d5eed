/**
 * A PRIVATE replicated MariaDB for failover tests: a primary with a binary log and a replica
 * (`CHANGE MASTER TO … MASTER_USE_GTID = slave_pos`), every node a `mariadbd` from the Debian
 * packages on a free port in one temporary directory, with the same two proxies as
 * replicated-postgres.ts (the client endpoint a failover repoints; the replication path a stall
 * holds back, so what the replica has not received dies with the primary).
 *
 * `semisync`: semi-synchronous replication, built into MariaDB ≥ 10.3
 * (`rpl_semi_sync_master_enabled` on the primary, `rpl_semi_sync_slave_enabled` on the replica, wait point AFTER_SYNC, a timeout long enough that it never
 * falls back to asynchronous during a test). Promotion: wait until the replica has applied what it
 * received, `STOP SLAVE; RESET SLAVE ALL`, and raise `gtid_domain_id` past the old primary's (the
 * failover procedure docs/lease.md asks for: hotcold reads it as the failover generation).
 * Every node starts from one `mariadb-install-db` template (copied), and logs its replicated
 * events (`log_slave_updates`), so the next replica replays the new primary's binlog from its start.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { freePort, run } from './private-postgres.js';
import { startTcpProxy, type TcpProxy } from './tcp-proxy.js';

export const MARIADB_BIN = process.env.HOTCOLD_TEST_MARIADBD ?? '/usr/sbin/mariadbd';
export const MARIADB_INSTALL_DB = process.env.HOTCOLD_TEST_MARIADB_INSTALL_DB ?? '/usr/bin/mariadb-install-db';

export type MariadbReplicationMode = 'async' | 'semisync';
/** As in replicated-postgres.ts. */
export type FailoverOrder = 'kill-first' | 'switch-first' | 'partition';

/** True when the binaries are there; loud skip otherwise, failure with CI=true. */
export function privateMariadbAvailable(): boolean {
  const ok = existsSync(MARIADB_BIN) && existsSync(MARIADB_INSTALL_DB);
  if (!ok) {
    if (process.env.CI === 'true') throw new Error(`MariaDB binaries are required in CI (CI=true) but ${MARIADB_BIN} or ${MARIADB_INSTALL_DB} is missing`);
    process.stderr.write(`\n\n*** MariaDB binaries NOT found (${MARIADB_BIN}): replicated-MariaDB suites are SKIPPED ***\n\n`);
  }
  return ok;
}

interface Node {
  id: number;
  port: number;
  data: string;
  socket: string;
  child: ChildProcess;
  exited: Promise<void>;
  replication?: TcpProxy;
}

export interface ReplicatedMariadb {
  readonly url: string;
  readonly mode: MariadbReplicationMode;
  /** A statement on the current primary, directly. */
  query(sql: string): Promise<Record<string, unknown>[]>;
  stallReplication(): void;
  resumeReplication(): void;
  /** Promotes the replica (raising gtid_domain_id), repoints the endpoint; resolves to the new gtid_domain_id. */
  failover(order?: FailoverOrder): Promise<number>;
  addReplica(): Promise<void>;
  stop(): Promise<void>;
}

const isHeader = (value: unknown): boolean => typeof value === 'object' && value !== null && 'affectedRows' in value;
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

async function onSocket(socket: string, sql: string, database?: string): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({ socketPath: socket, user: 'root', multipleStatements: true, connectTimeout: 5000, ...(database ? { database } : {}) });
  try {
    const [result] = await conn.query(sql);
    // Several statements: one result each; the last one's rows.
    const multi = Array.isArray(result) && result.some((r: unknown) => Array.isArray(r) || isHeader(r));
    const last: unknown = multi ? (result as unknown[])[(result as unknown[]).length - 1] : result;
    return (Array.isArray(last) ? last : []) as Record<string, unknown>[];
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}

export async function startReplicatedMariadb(mode: MariadbReplicationMode): Promise<ReplicatedMariadb> {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-mdbrepl-'));
  const nodes: Node[] = [];
  const proxies: TcpProxy[] = [];
  let primary: Node | undefined;
  let replica: Node | undefined;
  let endpoint: TcpProxy | undefined;
  let domain = 0;
  const template = join(dir, 'template');
  // Temporary directories of their own (the bootstrap's, and one per node), not the shared /tmp:
  // a MariaDB server starting removes every `#sql*` file in its tmpdir, so an instance starting
  // elsewhere (another suite, another checkout's run) deleted this bootstrap's temporary tables
  // mid-way ("Unknown table 'mysql.tmp_user_sys'", in a double run). test/node/private-mariadb.ts
  // does the same.
  const tmp = join(dir, 'tmp');
  mkdirSync(tmp);

  const startNode = async (role: 'primary' | 'replica'): Promise<Node> => {
    const id = nodes.length + 1;
    const data = join(dir, `n${id}`);
    cpSync(template, data, { recursive: true });
    const nodeTmp = join(dir, `n${id}-tmp`);
    mkdirSync(nodeTmp);
    const port = await freePort();
    const socket = join(dir, `n${id}.sock`);
    const semi =
      mode === 'semisync'
        ? [
            // Master side only on the primary: a replica logging its replicated events would wait
            // for an acknowledgement of its own, from nobody, before applying the next one.
            `--rpl-semi-sync-master-enabled=${role === 'primary' ? 'ON' : 'OFF'}`,
            '--rpl-semi-sync-slave-enabled=ON',
            '--rpl-semi-sync-master-timeout=600000',
            '--rpl-semi-sync-master-wait-point=AFTER_SYNC',
          ]
        : [];
    const child = spawn(
      MARIADB_BIN,
      [
        '--no-defaults',
        ...(process.getuid?.() === 0 ? ['--user=root'] : []),
        `--datadir=${data}`,
        `--tmpdir=${nodeTmp}`,
        `--socket=${socket}`,
        `--port=${port}`,
        '--bind-address=127.0.0.1',
        `--server-id=${id}`,
        `--log-bin=${join(dir, `n${id}-bin`)}`,
        '--log-slave-updates',
        '--binlog-format=ROW',
        '--innodb-flush-log-at-trx-commit=0',
        '--sync-binlog=0',
        '--innodb-buffer-pool-size=16M',
        '--skip-name-resolve',
        '--max-connections=80',
        `--pid-file=${join(dir, `n${id}.pid`)}`,
        `--log-error=${join(dir, `n${id}.err`)}`,
        ...semi,
      ],
      { stdio: 'ignore' },
    );
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    const node: Node = { id, port, data, socket, child, exited };
    nodes.push(node);
    const until = Date.now() + 60_000;
    for (;;) {
      try {
        // Local only (sql_log_bin = 0); IF NOT EXISTS makes the replicated copy from the primary a no-op.
        // The test database too, locally on every node (a replicated CREATE on a semi-synchronous
        // primary without its replica yet would wait for rpl_semi_sync_master_timeout).
        await onSocket(socket, "SET sql_log_bin = 0; CREATE USER IF NOT EXISTS 'root'@'%'; GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION; CREATE DATABASE IF NOT EXISTS test");
        return node;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > until) throw new Error(`mariadbd n${id} did not start: ${(error as Error).message}`, { cause: error });
        await sleep(100);
      }
    }
  };
  const kill = async (node: Node): Promise<void> => {
    if (node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGKILL');
      await node.exited;
    }
  };
  const urlOf = (port: number): string => `mysql://root@127.0.0.1:${port}/test`;

  const cluster: ReplicatedMariadb = {
    mode,
    get url() {
      return urlOf((endpoint as TcpProxy).port);
    },
    query: (sql) => onSocket((primary as Node).socket, sql, 'test'),
    stallReplication: () => replica?.replication?.stall(),
    resumeReplication: () => replica?.replication?.flow(),
    async addReplica() {
      const source = primary as Node;
      const replication = await startTcpProxy(source.port);
      proxies.push(replication);
      const node = await startNode('replica');
      node.replication = replication;
      await onSocket(
        node.socket,
        `SET GLOBAL gtid_domain_id = ${domain}; CHANGE MASTER TO MASTER_HOST = '127.0.0.1', MASTER_PORT = ${replication.port}, MASTER_USER = 'root', MASTER_USE_GTID = slave_pos, MASTER_CONNECT_RETRY = 1, MASTER_HEARTBEAT_PERIOD = 1; START SLAVE`,
      );
      replica = node;
      const until = Date.now() + 60_000;
      for (;;) {
        const status = (await onSocket(node.socket, 'SHOW SLAVE STATUS'))[0];
        const caughtUp = status?.Slave_IO_Running === 'Yes' && status.Slave_SQL_Running === 'Yes' && status.Read_Master_Log_Pos === status.Exec_Master_Log_Pos;
        const semiOk = mode !== 'semisync' || Number((await onSocket(source.socket, "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_clients'"))[0]?.Value) >= 1;
        if (caughtUp && semiOk && existsSync(node.socket)) return;
        if (Date.now() > until) throw new Error(`the replica did not catch up: ${JSON.stringify(status)}`);
        await sleep(100);
      }
    },
    async failover(order = 'kill-first') {
      const old = primary as Node;
      const next = replica;
      if (!next) throw new Error('no replica to promote');
      if (order === 'kill-first') await kill(old);
      next.replication?.cut();
      await next.replication?.close();
      // Apply what was received (the relay log), then stop being a replica.
      const until = Date.now() + 15_000;
      for (;;) {
        // A transaction received only in part (the stall cut it) is never applied: wait for the SQL
        // thread to have executed everything complete it has, not for the read position.
        const status = (await onSocket(next.socket, 'SHOW SLAVE STATUS'))[0];
        // A database cell is a string, number, bigint or Buffer here, never a plain object.
        // eslint-disable-next-line @typescript-eslint/no-base-to-string
        if (!status || /read all relay log/i.test(String(status.Slave_SQL_Running_State ?? ''))) break;
        if (Date.now() > until) throw new Error(`the replica did not apply its relay log: ${JSON.stringify(status)}`);
        await sleep(50);
      }
      domain += 1;
      const semi = mode === 'semisync' ? '; SET GLOBAL rpl_semi_sync_master_enabled = ON' : '';
      await onSocket(next.socket, `STOP SLAVE; RESET SLAVE ALL; SET GLOBAL gtid_domain_id = ${domain}${semi}`);
      primary = next;
      replica = undefined;
      if (order === 'partition') old.child.kill('SIGSTOP');
      (endpoint as TcpProxy).repoint(next.port, { keep: order === 'partition' });
      if (order === 'switch-first') await kill(old);
      if (order === 'partition') {
        await sleep(1500);
        await kill(old);
      }
      return domain;
    },
    async stop() {
      await Promise.all(nodes.map(kill));
      await Promise.all(proxies.map((p) => p.close().catch(() => undefined)));
      rmSync(dir, { recursive: true, force: true });
    },
  };

  try {
    await run(MARIADB_INSTALL_DB, ['--no-defaults', `--datadir=${template}`, `--tmpdir=${tmp}`, ...(process.getuid?.() === 0 ? ['--user=root'] : []), '--auth-root-authentication-method=normal', '--skip-test-db']);
    primary = await startNode('primary');
    endpoint = await startTcpProxy(primary.port);
    proxies.push(endpoint);
    await cluster.addReplica();
    return cluster;
  } catch (error) {
    await cluster.stop().catch(() => undefined);
    throw error;
  }
}
