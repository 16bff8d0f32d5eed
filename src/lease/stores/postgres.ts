import type pg from 'pg';
import { ConfigurationError } from '../../errors.js';
import { SecretScope } from '../../shared/redact.js';
import { rejectUnknownKeys, requirePositiveInteger, requireSqlIdentifier } from '../../shared/validate.js';
import type { SqlExecutor, StatementResult } from '../types.js';
import { executor, makeStore, type SqlLeaseStore } from './base.js';
import { loadDriver } from './load-driver.js';
import { PgReleaseWatcher } from './pg-release-watcher.js';
import { toPgPlaceholders } from './placeholders.js';

export interface PostgresStoreOptions {
  /** Lease table; default `hotcold_lease`. */
  table?: string;
  /** Pool size when the store opens its own pool from a connection string; default 10. */
  max?: number;
}

type PgModule = typeof pg;

const CONNECT_TIMEOUT_MS = 10_000;

function toResult(result: pg.QueryResult): StatementResult {
  return { rows: result.rows as Record<string, unknown>[], changes: result.rowCount ?? 0 };
}

/**
 * PostgreSQL store (pg). With a connection string it opens (and on close, ends) its own pool;
 * with a `pg.Pool` it uses it and leaves it open.
 */
export function postgresStore(connectionStringOrPool: string | pg.Pool, options: PostgresStoreOptions = {}): SqlLeaseStore {
  rejectUnknownKeys('', options, ['table', 'max']);
  const table = requireSqlIdentifier('table', options.table ?? 'hotcold_lease');
  const max = requirePositiveInteger('max', options.max ?? 10);
  const owned = typeof connectionStringOrPool === 'string';
  const secrets = new SecretScope();
  if (owned) {
    if (connectionStringOrPool.length === 0) throw new ConfigurationError('connectionString', 'must be a non-empty postgres:// URL');
    secrets.addUrlPassword(connectionStringOrPool);
  } else if (typeof connectionStringOrPool !== 'object' || connectionStringOrPool === null || typeof connectionStringOrPool.connect !== 'function') {
    throw new ConfigurationError('pool', 'must be a connection string or a pg.Pool');
  }

  let pool: pg.Pool | undefined = owned ? undefined : connectionStringOrPool;
  let opening: Promise<pg.Pool> | undefined;
  let closed = false;
  const open = (): Promise<pg.Pool> => {
    if (closed) return Promise.reject(new Error('postgresStore is closed'));
    if (pool) return Promise.resolve(pool);
    opening ??= loadDriver<PgModule>('pg', 'postgresStore').then((driver) => {
      const created = new driver.Pool({
        connectionString: connectionStringOrPool as string,
        max,
        application_name: 'hotcold',
        // Without it a connect to an unreachable host waits for the OS TCP timeout (minutes).
        connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      });
      // An idle connection killed by the server (failover, pg_terminate_backend) is reported here;
      // unhandled it would crash the process. The next checkout simply opens a new connection.
      created.on('error', () => undefined);
      pool = created;
      return created;
    });
    return opening;
  };

  let driverModule: PgModule | undefined;
  const channel = `hotcold_${table}`.slice(0, 63);
  const watcher = new PgReleaseWatcher(channel, async () => {
    const p = await open();
    driverModule ??= await loadDriver<PgModule>('pg', 'postgresStore');
    // A session of its own, with the pool's connection settings (pg-pool keeps them in `options`).
    const settings = owned
      ? { connectionString: connectionStringOrPool, application_name: 'hotcold' }
      : (p as pg.Pool & { options: pg.ClientConfig }).options;
    return new driverModule.Client({ ...settings, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
  });

  return makeStore({
    dialect: 'postgres',
    secrets,
    watchReleases: (name, onRelease) => watcher.watch(name, onRelease),
    async notifyRelease(name) {
      await (await open()).query('SELECT pg_notify($1, $2)', [channel, name]);
    },
    table,
    async run(sql, params, runOptions) {
      const p = await open();
      const config: pg.QueryConfig & { query_timeout?: number } = { text: toPgPlaceholders(sql), values: [...params] };
      // On timeout pg fails the query and the pool discards that connection.
      if (runOptions?.timeoutMs !== undefined) config.query_timeout = runOptions.timeoutMs;
      return toResult(await p.query(config));
    },
    async transaction<T>(fn: (tx: SqlExecutor) => Promise<T>): Promise<T> {
      const p = await open();
      const client = await p.connect();
      let broken: Error | undefined;
      // While checked out, a session the server ends (idle_in_transaction_session_timeout,
      // pg_terminate_backend, failover) is reported as an 'error' event on the client, which pg-pool
      // does not listen to then: unhandled, it would crash the process. The pending query fails too.
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on('error', onError);
      try {
        await client.query('BEGIN');
        const tx = executor('postgres', async (sql, params) => toResult(await client.query(toPgPlaceholders(sql), [...params])));
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (error) {
        try {
          await client.query('ROLLBACK');
        } catch (rollbackError) {
          broken = rollbackError as Error;
        }
        throw error;
      } finally {
        client.removeListener('error', onError);
        // Releasing with an error makes the pool discard the connection instead of reusing it.
        client.release(broken);
      }
    },
    async createTable(statements) {
      const p = await open();
      const client = await p.connect();
      const onError = (): void => undefined;
      client.on('error', onError);
      try {
        // Concurrent CREATE TABLE IF NOT EXISTS can still collide in the catalog (23505 on
        // pg_type); an advisory lock keyed by the table name makes racing creators take turns.
        await client.query('BEGIN');
        await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`hotcold:${table}`]);
        for (const sql of statements) await client.query(sql);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      } finally {
        client.removeListener('error', onError);
        client.release();
      }
    },
    async close() {
      await watcher.close();
      closed = true;
      if (owned) {
        const p = pool ?? (opening ? await opening.catch(() => undefined) : undefined);
        await p?.end();
      }
    },
  });
}
