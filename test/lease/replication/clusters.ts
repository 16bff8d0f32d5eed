/** The replicated databases the failover test runs on, behind the driver's {@link FailoverCluster}. */
import pg from 'pg';
import { startReplicatedPostgres, type PgReplicationMode } from '../../support/replicated-postgres.js';
import { startReplicatedMariadb, type MariadbReplicationMode } from '../../support/replicated-mariadb.js';
import type { FailoverCluster } from './driver.js';

export async function postgresCluster(mode: PgReplicationMode): Promise<FailoverCluster> {
  const db = await startReplicatedPostgres(mode);
  let client: pg.Client | undefined;
  const connect = async (): Promise<pg.Client> => {
    if (client) return client;
    const c = new pg.Client({ connectionString: db.primaryUrl(), connectionTimeoutMillis: 5000, statement_timeout: 5000, query_timeout: 6000 });
    c.on('error', () => undefined);
    await c.connect();
    client = c;
    return c;
  };
  const drop = (): void => {
    void client?.end().catch(() => undefined);
    client = undefined;
  };
  return {
    store: 'postgres',
    url: db.url,
    async query(sql) {
      const c = await connect();
      try {
        return (await c.query(sql)).rows as Record<string, unknown>[];
      } catch (error) {
        drop();
        throw error;
      }
    },
    stallReplication: () => db.stallReplication(),
    resumeReplication: () => db.resumeReplication(),
    async failover(order) {
      drop();
      return `timeline ${await db.failover(order)}`;
    },
    addReplica: () => db.addReplica(),
    caughtUp: () => db.caughtUp(),
    async stop() {
      drop();
      await db.stop();
    },
  };
}

export async function mariadbCluster(mode: MariadbReplicationMode): Promise<FailoverCluster> {
  const db = await startReplicatedMariadb(mode);
  return {
    store: 'mysql',
    url: db.url,
    query: (sql) => db.query(sql),
    stallReplication: () => db.stallReplication(),
    resumeReplication: () => db.resumeReplication(),
    failover: async (order) => `gtid_domain_id ${await db.failover(order)}`,
    addReplica: () => db.addReplica(),
    stop: () => db.stop(),
  };
}
