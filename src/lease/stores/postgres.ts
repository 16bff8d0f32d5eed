import type pg from 'pg';
import type { PgPoolLike } from './driver-shapes.js';
import { ConfigurationError } from '../../errors.js';
import { SecretScope } from '../../shared/redact.js';
import { rejectUnknownKeys, requirePositiveInteger, requireSqlIdentifier } from '../../shared/validate.js';
import type { SqlExecutor, StatementResult, TransactionOptions } from '../types.js';
import { TransactionRolledBackError } from '../errors.js';
import { abandonable } from './abandonable.js';
import { executor, makeStore, type SqlLeaseStore } from './base.js';
import { loadDriver } from './load-driver.js';
import { PgReleaseWatcher } from './pg-release-watcher.js';
import { endWithin } from './bounded-close.js';
import { requirePgConnectionString } from './connection-string.js';
import { destroyClient } from './pg-destroy.js';
import { inlinePgParams, toPgPlaceholders } from './placeholders.js';
import { driverTimeoutMs, pgTimeoutMs } from '../db-timeouts.js';
import { refusingTransactionControl, type BackslashMode } from './transaction-control.js';

/** Options of {@link postgresStore}. */
export interface PostgresStoreOptions {
  /**
   * Lease table.
   * @default 'hotcold_lease'
   */
  table?: string;
  /**
   * Pool size when the store opens its own pool from a connection string.
   * @default 10
   */
  max?: number;
  /**
   * Longest wait (ms) for a new connection (TCP connect + start-up) when the store opens its own
   * pool or its LISTEN session; capped at 2^31−1 ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
}

type PgModule = typeof pg;

const DEFAULT_CONNECT_TIMEOUT_MS = 10_000;
/** Bound of each statement on the LISTEN session (LISTEN itself returns at once). */
const LISTEN_STATEMENT_TIMEOUT_MS = 5_000;
/** What the client waits beyond a server-side bound before it gives up on the connection. */
const CLIENT_SLACK_MS = 1_000;
/** Bound of the statement that ends an abandoned transaction's session on the server. */
const TERMINATE_TIMEOUT_MS = 5_000;

/** The server session of an open transaction: its backend and the transaction's start. */
interface TxSession {
  pid: number;
  /**
   * `now()` of the transaction (which `pg_stat_activity.xact_start` shows while it is open) as
   * exact epoch seconds: independent of the sessions' DateStyle and TimeZone.
   */
  xact: string;
}

function toResult(result: pg.QueryResult): StatementResult {
  return { rows: result.rows as Record<string, unknown>[], changes: result.rowCount ?? 0 };
}

/**
 * One statement bounded ON THE SERVER, in one round trip: `SET LOCAL lock_timeout` and
 * `statement_timeout` apply to the implicit transaction of a multi-statement simple query, so a
 * renewal or takeover never waits in a lock queue (where it would hold up everyone queued
 * behind it) longer than its bound, and a statement the client gave up on does not linger on the
 * server. The simple protocol takes no parameters: they are inlined as literals (the engine's
 * own statements only carry strings and numbers).
 */
function boundedText(sql: string, params: readonly unknown[], timeoutMs: number): string {
  const ms = pgTimeoutMs(timeoutMs);
  return `SET LOCAL lock_timeout = ${ms}; SET LOCAL statement_timeout = ${ms}; ${DURABLE_COMMIT} ${inlinePgParams(sql, params)}`;
}

/**
 * A lease statement's COMMIT is on disk before it is acknowledged, whatever `synchronous_commit`
 * the server, database or role runs with. With `off`, a crash (not a failover: the timeline, and
 * so the failover generation, stays the same) lost an acknowledged takeover, and the next holder
 * was issued the same fencing token. Only `off` is raised, to `local` (flushed here; replication
 * waits stay as configured): `on`, `remote_write`, `remote_apply` and `local` already flush.
 */
const DURABLE_COMMIT = "SELECT set_config('synchronous_commit', 'local', true) WHERE current_setting('synchronous_commit') = 'off';";

function lastResult(result: pg.QueryResult | pg.QueryResult[]): pg.QueryResult {
  return Array.isArray(result) ? (result[result.length - 1] as pg.QueryResult) : result;
}

/**
 * PostgreSQL store (pg). With a connection string it opens (and on close, ends) its own pool;
 * with a `pg.Pool` it uses it and leaves it open.
 *
 * Without `pg` installed, the store's first operation rejects with {@link DriverMissingError}.
 *
 * @param connectionStringOrPoolLike - A `postgres://` URL (the store opens and ends its pool), or
 * your `pg.Pool` (left open).
 * @param options - Table, pool size, timeouts; see {@link PostgresStoreOptions}.
 * @throws {ConfigurationError} when the connection string or an option is invalid (naming the field).
 * @example
 * ```ts
 * import { createLease, postgresStore } from 'hotcold/lease';
 *
 * const store = postgresStore('postgres://app@db:5432/app');
 * const lease = createLease({ store, machineName: 'node-a' });
 * ```
 */
export function postgresStore(connectionStringOrPoolLike: string | PgPoolLike, options: PostgresStoreOptions = {}): SqlLeaseStore {
  // The public signature names the shape only (the .d.ts must compile without @types/pg).
  const connectionStringOrPool = connectionStringOrPoolLike as string | pg.Pool;
  rejectUnknownKeys('', options, ['table', 'max', 'connectTimeoutMs']);
  const table = requireSqlIdentifier('table', options.table ?? 'hotcold_lease');
  const max = requirePositiveInteger('max', options.max ?? 10);
  const connectTimeoutMs = driverTimeoutMs(requirePositiveInteger('connectTimeoutMs', options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS));
  const owned = typeof connectionStringOrPool === 'string';
  const secrets = new SecretScope();
  if (owned) {
    if (connectionStringOrPool.length === 0) throw new ConfigurationError('connectionString', 'must be a non-empty postgres:// URL');
    requirePgConnectionString('connectionString', connectionStringOrPool);
    secrets.addUrlPassword(connectionStringOrPool);
  } else if (typeof connectionStringOrPool !== 'object' || connectionStringOrPool === null || typeof connectionStringOrPool.connect !== 'function') {
    throw new ConfigurationError('pool', 'must be a connection string or a pg.Pool');
  }

  let pool: pg.Pool | undefined = owned ? undefined : connectionStringOrPool;
  let opening: Promise<pg.Pool> | undefined;
  let closed = false;
  const clients = new Set<pg.Client>();
  const open = (): Promise<pg.Pool> => {
    if (closed) return Promise.reject(new Error('postgresStore is closed'));
    if (pool) return Promise.resolve(pool);
    opening ??= loadDriver<PgModule>('pg', 'postgresStore').then((driver) => {
      const created = new driver.Pool({
        connectionString: connectionStringOrPool as string,
        max,
        application_name: 'hotcold',
        // Without it a connect to an unreachable host waits for the OS TCP timeout (minutes).
        connectionTimeoutMillis: connectTimeoutMs,
      });
      // An idle connection killed by the server (failover, pg_terminate_backend) is reported here;
      // unhandled it would crash the process. The next checkout simply opens a new connection.
      created.on('error', () => undefined);
      // Known so that close() can tear down a connection stuck on a frozen server.
      created.on('connect', (client) => clients.add(client));
      created.on('remove', (client) => clients.delete(client));
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
    return new driverModule.Client({
      ...settings,
      connectionTimeoutMillis: connectTimeoutMs,
      statement_timeout: LISTEN_STATEMENT_TIMEOUT_MS,
      lock_timeout: LISTEN_STATEMENT_TIMEOUT_MS,
      query_timeout: LISTEN_STATEMENT_TIMEOUT_MS + CLIENT_SLACK_MS,
    });
  });

  /**
   * Ends the server session of an abandoned transaction, if it is still in that very transaction
   * (a reused pid in a new session is left alone), rolling it back and freeing its locks. Bounded
   * on the server; failures are ignored (a frozen server, no privilege to signal backends): the
   * closed socket ends the session anyway once the server looks at it.
   */
  const terminate = (target: TxSession): void => {
    const text = boundedText(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ? AND extract(epoch FROM xact_start) = CAST(? AS numeric)',
      [target.pid, target.xact],
      TERMINATE_TIMEOUT_MS,
    );
    void open()
      .then((p) => p.query({ text, query_timeout: TERMINATE_TIMEOUT_MS + CLIENT_SLACK_MS } as pg.QueryConfig))
      .catch(() => undefined);
  };

  return makeStore({
    dialect: 'postgres',
    secrets,
    watchReleases: (name, onRelease) => watcher.watch(name, onRelease),
    async notifyRelease(name) {
      const text = boundedText('SELECT pg_notify(?, ?)', [channel, name], LISTEN_STATEMENT_TIMEOUT_MS);
      await (await open()).query({ text, query_timeout: LISTEN_STATEMENT_TIMEOUT_MS + CLIENT_SLACK_MS } as pg.QueryConfig);
    },
    table,
    async run(sql, params, runOptions) {
      const p = await open();
      const timeoutMs = runOptions?.timeoutMs;
      if (timeoutMs === undefined) return toResult(await p.query(toPgPlaceholders(sql, params.length), [...params]));
      // The server ends the statement at its bound; the client timeout (on which pg discards the
      // connection) is only the backstop for a server that does not answer at all.
      const config: pg.QueryConfig & { query_timeout?: number } = { text: boundedText(sql, params, timeoutMs), query_timeout: driverTimeoutMs(timeoutMs + CLIENT_SLACK_MS) };
      return toResult(lastResult(await p.query(config)));
    },
    transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, txOptions?: TransactionOptions): Promise<T> {
      let client: pg.PoolClient | undefined;
      let released = false;
      let broken: Error | undefined;
      // While checked out, a session the server ends (idle_in_transaction_session_timeout,
      // pg_terminate_backend, failover) is reported as an 'error' event on the client, which pg-pool
      // does not listen to then: unhandled, it would crash the process. The pending query fails too.
      // Left attached on a discarded client, whose late errors have nobody else to go to.
      // The server ended the session under `fn` (idle_in_transaction_session_timeout,
      // pg_terminate_backend, a restart): the transaction is rolled back. Rejected at once rather
      // than when `fn` next issues a statement — or never, when `fn` awaits something that hangs.
      let sessionEnded: (error: Error) => void = () => undefined;
      const ended = new Promise<never>((_resolve, reject) => {
        sessionEnded = (error) =>
          reject(new TransactionRolledBackError(`postgresStore: the server ended the session before COMMIT (${error.message}); the transaction was rolled back, nothing was committed`, { cause: error }));
      });
      ended.catch(() => undefined);
      const onError = (error: Error): void => {
        broken = error;
        sessionEnded(error);
      };
      const release = (error: Error | undefined): void => {
        if (released || client === undefined) return;
        released = true;
        // Releasing with an error makes the pool discard the connection instead of reusing it.
        client.release(error);
      };
      // Abandoned: out of the pool at once, and the socket destroyed rather than ended (a graceful
      // end waits for the server's goodbye, which a frozen server never sends). The server rolls
      // the transaction back when it sees the connection gone.
      let session: TxSession | undefined;
      const discard = (): void => {
        if (released || client === undefined) return;
        const abandoned = client;
        release(new Error('postgresStore: connection discarded (transaction abandoned)'));
        (abandoned as pg.PoolClient & { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
        // A backend idle in the transaction sees the socket close at once; one running a
        // statement or waiting on a lock does not until that ends, holding its locks meanwhile
        // (the fence's among them). Ask the server to end it, on another connection; nobody waits.
        if (session !== undefined) terminate(session);
      };
      return abandonable('postgresStore', txOptions?.signal, async (progress) => {
        const p = await open();
        client = await p.connect();
        const c = client;
        c.on('error', onError);
        if (progress.abandoned) {
          discard();
          throw new Error('abandoned while connecting');
        }
        try {
          // One round trip: the session's identity comes with BEGIN (see `discard`), and how it
          // reads backslashes in strings (for telling fn's COMMIT from a string holding one).
          const begun = (await c.query(
            "BEGIN; SELECT pg_backend_pid() AS pid, extract(epoch FROM now())::text AS xact, current_setting('standard_conforming_strings') AS scs, current_setting('client_encoding') AS enc",
          )) as unknown as pg.QueryResult[];
          const identity = begun[1]?.rows[0] as { pid?: unknown; xact?: unknown; scs?: unknown; enc?: unknown } | undefined;
          // node-pg sends and reads UTF-8 only: a session of a pool of yours set to another
          // client_encoding (LATIN1 …) had the server read each byte as a character — 'pay-😀'
          // stored as an 8-character key this pool read back whole, but a node whose pool is right
          // found no such key (the call ran again) and read payloads mangled. Refused, unsent.
          if (identity !== undefined && String(identity.enc).toUpperCase() !== 'UTF8') {
            throw new ConfigurationError(
              'pool',
              `its sessions' client_encoding is ${String(identity.enc)}, not UTF8 (what node-pg sends and reads): keys and payloads would be stored mangled and differ from every other node's; leave client_encoding as node-pg sets it`,
            );
          }
          if (identity !== undefined) session = { pid: Number(identity.pid), xact: String(identity.xact) };
          const backslashes: BackslashMode = identity?.scs === 'on' ? 'literal' : identity?.scs === 'off' ? 'escape' : 'unknown';
          const tx = executor('postgres', async (sql, params) => toResult(await c.query(toPgPlaceholders(sql, params.length), [...params])));
          // A COMMIT, ROLLBACK, SAVEPOINT… of fn's is refused before it is sent (transaction-control.ts).
          const result = await Promise.race([refusingTransactionControl('postgresStore', fn, () => backslashes)(tx), ended]);
          // Given up on while `fn` was finishing: never COMMIT what the caller was told did not run.
          if (progress.abandoned) throw new Error('abandoned');
          progress.commitSent = true;
          // After a failed statement (one `fn` caught) the transaction is aborted, and the server
          // answers COMMIT with a ROLLBACK (the command succeeds): nothing was committed.
          const commit = await c.query('COMMIT');
          if (commit.command === 'ROLLBACK') {
            throw new TransactionRolledBackError(
              'postgresStore: a statement in the transaction failed (its error was caught), so PostgreSQL rolled it back at COMMIT; nothing was committed',
            );
          }
          progress.committed = true;
          return result;
        } catch (error) {
          if (!progress.abandoned) {
            try {
              await c.query('ROLLBACK');
            } catch (rollbackError) {
              broken = rollbackError as Error;
            }
          }
          throw error;
        } finally {
          if (!released) c.removeListener('error', onError);
          release(broken);
        }
      }, discard);
    },
    async close() {
      closed = true;
      const endPool = async (): Promise<void> => {
        if (!owned) return;
        const p = pool ?? (opening ? await opening.catch(() => undefined) : undefined);
        // pg-pool announces a client only once connected; one still connecting to a frozen server
        // (up to the connect timeout) is in its internal list, which end() waits for as well.
        const pending = (): pg.Client[] => (p as unknown as { _clients?: pg.Client[] } | undefined)?._clients ?? [];
        if (p) await endWithin(() => p.end(), () => new Set([...clients, ...pending()]).forEach(destroyClient));
      };
      await Promise.all([watcher.close(), endPool()]);
    },
  });
}
