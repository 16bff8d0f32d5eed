import type * as mysql from 'mysql2/promise';
import type { MysqlPoolLike } from './driver-shapes.js';
import { ConfigurationError } from '../../errors.js';
import { rejectUnknownKeys, requirePositiveInteger, requireSqlIdentifier } from '../../shared/validate.js';
import type { SqlExecutor, StatementResult, TransactionOptions } from '../types.js';
import { TransactionRolledBackError } from '../errors.js';
import { abandonable } from './abandonable.js';
import { executor, makeStore, type SqlLeaseStore } from './base.js';
import { loadDriver } from './load-driver.js';
import { endWithin, type Destroyable } from './bounded-close.js';
import { requireMysqlUri } from './connection-string.js';
import { SecretScope } from '../../shared/redact.js';
import { driverTimeoutMs, mariadbStatementTime, mariadbTimeoutSeconds } from '../db-timeouts.js';
import { exactCollationSql, MYSQL_EXACT_COLLATION_MARKER } from '../exact-collation.js';
import { mariadbGenerationSql, MYSQL_GENERATION_MARKER } from '../generation.js';
import { refusingTransactionControl, type BackslashMode } from './transaction-control.js';

/** Options of {@link mysqlStore}. */
export interface MysqlStoreOptions {
  /**
   * Lease table.
   * @default 'hotcold_lease'
   */
  table?: string;
  /**
   * Pool size when the store opens its own pool from a URI.
   * @default 10
   */
  connectionLimit?: number;
  /**
   * Longest wait (ms) for a new connection (TCP connect + handshake) when the store opens its own
   * pool; capped at 2^31−1 ms.
   * @default 10000
   */
  connectTimeoutMs?: number;
}

type MysqlModule = typeof mysql;
type Queryable = Pick<mysql.Pool, 'query'> | Pick<mysql.PoolConnection, 'query'>;

/** What the client waits beyond a server-side bound before it gives up on the connection. */
const CLIENT_SLACK_MS = 1_000;
/** Client-side bound of the `KILL` that ends an abandoned transaction's session. */
const KILL_TIMEOUT_MS = 5_000;

/**
 * MariaDB bounds ONE statement on the server with `SET STATEMENT … FOR` (one round trip):
 * `innodb_lock_wait_timeout` for row locks, `lock_wait_timeout` for METADATA locks (which a DDL
 * or a foreign `LOCK TABLES` holds), `max_statement_time` for the whole run. The first two count
 * whole seconds. MySQL has no `SET STATEMENT`: there the client-side timeout alone bounds it.
 * It also puts the statement on the server's real clock (`timestamp = 0`), whatever the session set.
 */
function boundedPrefix(timeoutMs: number): string {
  const seconds = mariadbTimeoutSeconds(timeoutMs);
  // `timestamp = 0`: the server's real clock. A session's `SET timestamp = …` (data replays, tests)
  // moves its UTC_TIMESTAMP(), and a pooled connection keeps it when it goes back to the pool: a
  // renewal on a connection set back stamped renewed_at in the past, and a standby on another
  // connection took over while the holder was still valid.
  return `SET STATEMENT timestamp = 0, innodb_lock_wait_timeout = ${seconds}, lock_wait_timeout = ${seconds}, max_statement_time = ${mariadbStatementTime(timeoutMs)} FOR `;
}

/**
 * A text parameter as a literal that every sql_mode reads the same. mysql2 inlines parameters on
 * the client and escapes quotes, backslashes and control characters with a backslash; under
 * `NO_BACKSLASH_ESCAPES` (a DBA's server setting, or the application's on the sessions of a pool it
 * hands the store) MariaDB reads those escapes literally: a quote in a value broke the statement,
 * and `{"a":"x"}` was stored as `{\"a\":\"x\"}`. mysql2 takes a value's `toSqlString()` as
 * the literal to inline (sqlstring's hook), and `String(value)` as a `??` identifier.
 *
 * Text without a backslash is a plain quoted literal with its quotes doubled (`''`, read alike in
 * both modes; control characters go raw, which both read as themselves): it keeps the connection's
 * charset and collation, as mysql2's literal did, and its length. Only text with a backslash, which
 * no quoted literal writes alike in both modes, is a hex literal with the utf8mb4 introducer: it
 * takes utf8mb4's default collation when compared with another literal (a column's wins) and is
 * twice as long on the wire.
 */
class TextLiteral {
  constructor(private readonly text: string) {}

  toSqlString(): string {
    if (!this.text.includes('\\')) return `'${this.text.replaceAll("'", "''")}'`;
    return `_utf8mb4 X'${Buffer.from(this.text, 'utf8').toString('hex')}'`;
  }

  /** The text itself: what mysql2 quotes as an identifier for `??`. */
  toString(): string {
    return this.text;
  }
}

/** `value` with every string in it (arrays and plain objects included, as mysql2 expands them) as a {@link TextLiteral}. */
function modeProof(value: unknown): unknown {
  if (typeof value === 'string') return new TextLiteral(value);
  if (Array.isArray(value)) return value.map(modeProof);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([key, inner]) => [key, modeProof(inner)]));
  }
  return value;
}

/**
 * Whether `target` (a pool of yours, or one of its connections) formats parameters with its own
 * `queryFormat`: that function gets the values as given (it may test `typeof value === 'string'`),
 * and how it quotes them is its own. mysql2 keeps the option on the pool's connection config.
 */
function formatsItself(target: Queryable): boolean {
  const shape = target as {
    connection?: { config?: { queryFormat?: unknown } };
    pool?: { config?: { connectionConfig?: { queryFormat?: unknown } } };
  };
  return typeof (shape.connection?.config?.queryFormat ?? shape.pool?.config?.connectionConfig?.queryFormat) === 'function';
}

async function runOn(target: Queryable, sql: string, params: readonly unknown[], timeoutMs?: number): Promise<StatementResult> {
  // Plain rows keyed by column name, whatever a pool of yours was made with (rowsAsArray,
  // nestTables are its options for your own queries): the store and fn read rows by name.
  const options: mysql.QueryOptions = { sql, rowsAsArray: false, nestTables: false };
  if (timeoutMs !== undefined) options.timeout = driverTimeoutMs(timeoutMs + CLIENT_SLACK_MS);
  const values = params.length === 0 || formatsItself(target) ? [...params] : params.map(modeProof);
  const [result] = await target.query(options, values);
  if (Array.isArray(result)) return { rows: result as Record<string, unknown>[], changes: 0 };
  return { rows: [], changes: (result as mysql.ResultSetHeader).affectedRows };
}

/**
 * InnoDB errors after which the transaction may be gone, rolled back whole: a deadlock victim
 * (1213), a lock wait timeout under `innodb_rollback_on_timeout` (1205), the lock table full (1206).
 */
const ENDS_TRANSACTION: ReadonlySet<number> = new Set([1205, 1206, 1213]);
/** The server's "in a transaction" status flag (SERVER_STATUS_IN_TRANS) of an OK packet. */
const SERVER_STATUS_IN_TRANS = 1;
/** The server's status flag saying the session runs with `NO_BACKSLASH_ESCAPES` (SERVER_STATUS_NO_BACKSLASH_ESCAPES). */
const SERVER_STATUS_NO_BACKSLASH_ESCAPES = 512;

/** Whether the connection's session is still inside a transaction (a status flag of an OK packet: one round trip). */
async function inTransaction(c: Pick<mysql.PoolConnection, 'query'>): Promise<boolean> {
  const [header] = await c.query('DO 0');
  const status = (header as Partial<mysql.ResultSetHeader>).serverStatus;
  // A server (or proxy) that does not say is taken as not in one: refusing to go on is safe.
  return typeof status === 'number' && (status & SERVER_STATUS_IN_TRANS) !== 0;
}

/**
 * MariaDB / MySQL store (mysql2). With a URI (`mysql://` or `mariadb://`) it opens and later ends
 * its own pool; with a mysql2/promise `Pool` it uses it and leaves it open.
 *
 * Without `mysql2` installed, the store's first operation rejects with {@link DriverMissingError}.
 *
 * @param uriOrPoolLike - A `mysql://` or `mariadb://` URI (the store opens and ends its pool), or
 * your mysql2/promise `Pool` (left open).
 * @param options - Table, pool size, timeouts; see {@link MysqlStoreOptions}.
 * @throws {ConfigurationError} when the URI or an option is invalid (naming the field).
 * @example
 * ```ts
 * import { createLease, mysqlStore } from 'hotcold/lease';
 *
 * const store = mysqlStore('mysql://app@db:3306/app');
 * const lease = createLease({ store, machineName: 'node-a' });
 * ```
 */
export function mysqlStore(uriOrPoolLike: string | MysqlPoolLike, options: MysqlStoreOptions = {}): SqlLeaseStore {
  // The public signature names the shape only (the .d.ts must compile without mysql2's types).
  const uriOrPool = uriOrPoolLike as string | mysql.Pool;
  rejectUnknownKeys('', options, ['table', 'connectionLimit', 'connectTimeoutMs']);
  const table = requireSqlIdentifier('table', options.table ?? 'hotcold_lease');
  const connectionLimit = requirePositiveInteger('connectionLimit', options.connectionLimit ?? 10);
  const connectTimeout = driverTimeoutMs(requirePositiveInteger('connectTimeoutMs', options.connectTimeoutMs ?? 10_000));
  const owned = typeof uriOrPool === 'string';
  const secrets = new SecretScope();
  if (owned) {
    if (uriOrPool.length === 0) throw new ConfigurationError('uri', 'must be a non-empty mysql:// URI');
    requireMysqlUri('uri', uriOrPool);
    secrets.addUrlPassword(uriOrPool);
  } else if (typeof uriOrPool !== 'object' || uriOrPool === null || typeof uriOrPool.getConnection !== 'function') {
    throw new ConfigurationError('pool', 'must be a mysql:// URI or a mysql2/promise Pool');
  } else if (typeof (uriOrPool as { promise?: unknown }).promise === 'function') {
    // mysql2's callback-style Pool (from 'mysql2', not 'mysql2/promise'): its getConnection takes
    // a callback and returns nothing, so the first statement crashed with a TypeError.
    throw new ConfigurationError('pool', "is a callback-style mysql2 Pool: pass its promise() wrapper (or a Pool from 'mysql2/promise')");
  }

  let pool: mysql.Pool | undefined = owned ? undefined : uriOrPool;
  let opening: Promise<mysql.Pool> | undefined;
  let closed = false;
  // Sockets of the pool's connections, so that close() can tear down one stuck on a frozen server.
  const sockets = new Set<Destroyable & NodeJS.EventEmitter>();
  const open = (): Promise<mysql.Pool> => {
    if (closed) return Promise.reject(new Error('mysqlStore is closed'));
    if (pool) return Promise.resolve(pool);
    opening ??= loadDriver<MysqlModule>('mysql2/promise', 'mysqlStore').then((driver) => {
      // mysql2 does not know the mariadb: scheme; the wire protocol is the same.
      const uri = (uriOrPool as string).replace(/^mariadb:/i, 'mysql:');
      const created = driver.createPool({ uri, connectionLimit, connectTimeout, timezone: 'Z' });
      created.on('connection', (connection) => {
        const socket = (connection as unknown as { stream?: Destroyable & NodeJS.EventEmitter }).stream;
        if (!socket) return;
        sockets.add(socket);
        socket.once('close', () => sockets.delete(socket));
      });
      pool = created;
      return created;
    });
    return opening;
  };

  // Whether the server is MariaDB (SET STATEMENT) — asked once, on the first bounded statement.
  // With it, the session's character set: keys and payloads travel as utf8mb4 or not at all. A
  // pool of yours made with another `charset` (latin1 …) had mysql2 encode the text in it and the
  // server read it so: 'pay-😀' was stored as 'pay-=\0' (a key another key could equal), payloads
  // were mangled. Refused then, for every statement after (ConfigurationError naming the pool).
  let mariadb: Promise<boolean> | undefined;
  const isMariadb = (p: Queryable): Promise<boolean> => {
    // The results' character set too: text read back in latin1 came back mangled ('pay-😀' as
    // 'pay-?'). NULL there means no conversion (each column's own, utf8mb4 for hotcold's tables).
    mariadb ??= runOn(p, 'SELECT VERSION() AS v, @@character_set_client AS c, @@character_set_connection AS n, @@character_set_results AS r', [], 5_000).then(
      ({ rows }) => {
        const row = rows[0];
        for (const charset of [row?.c, row?.n, row?.r === null ? 'utf8mb4' : row?.r]) {
          // A database cell is a string, number, bigint or Buffer here, never a plain object.
          // eslint-disable-next-line @typescript-eslint/no-base-to-string
          const name = String(charset ?? '');
          if (name.toLowerCase() !== 'utf8mb4') {
            throw new ConfigurationError(
              'pool',
              `its connections' character set is ${name || 'unknown'}, not utf8mb4: text it cannot hold (emoji, most scripts) would be stored mangled, and distinct idempotency keys could be one; create the pool with charset: 'utf8mb4_general_ci' (or any utf8mb4 collation)`,
            );
          }
        }
        // eslint-disable-next-line @typescript-eslint/no-base-to-string
        return /mariadb/i.test(String(row?.v ?? ''));
      },
      (error: unknown) => {
        mariadb = undefined;
        throw error;
      },
    );
    return mariadb;
  };

  /**
   * The statement as this server runs it: the failover generation is MariaDB's GTID domain
   * (generation.ts), key columns take the server's NO PAD binary collation (exact-collation.ts).
   * Statements with neither marker (all but DDL and the fence) cost no server question.
   */
  const withGeneration = async (p: Queryable, sql: string): Promise<string> => {
    if (!sql.includes(MYSQL_GENERATION_MARKER) && !sql.includes(MYSQL_EXACT_COLLATION_MARKER)) return sql;
    const onMariadb = await isMariadb(p);
    return exactCollationSql(onMariadb ? mariadbGenerationSql(sql) : sql, onMariadb);
  };

  /**
   * `KILL`s the session of an abandoned transaction (rolled back by the server, its locks freed).
   * Bounded; failures are ignored (a frozen server, no privilege): the closed socket ends the
   * session anyway once the server reads it. Connection ids are not reused while a server runs.
   */
  const kill = (threadId: number): void => {
    void open()
      .then((p) => runOn(p, `KILL ${Math.trunc(threadId)}`, [], KILL_TIMEOUT_MS))
      .catch(() => undefined);
  };

  return makeStore({
    dialect: 'mysql',
    secrets,
    table,
    async run(sql, params, runOptions) {
      const p = await open();
      const timeoutMs = runOptions?.timeoutMs;
      if (timeoutMs === undefined) return runOn(p, await withGeneration(p, sql), params);
      const text = (await isMariadb(p)) ? boundedPrefix(timeoutMs) + (await withGeneration(p, sql)) : await withGeneration(p, sql);
      return runOn(p, text, params, timeoutMs);
    },
    transaction<T>(fn: (tx: SqlExecutor) => Promise<T>, txOptions?: TransactionOptions): Promise<T> {
      let conn: mysql.PoolConnection | undefined;
      let released = false;
      let broken = false;
      // A connection the server kills while idle in our transaction reports an 'error' event;
      // unhandled it would crash the process. The next statement on it fails anyway. Left
      // attached on a discarded connection, whose late errors have nobody else to go to.
      // The server ended the session under `fn` (idle_transaction_timeout, KILL, a restart): the
      // transaction is rolled back. Rejected at once rather than when `fn` next issues a
      // statement — or never, when `fn` awaits something that hangs.
      let sessionEnded: (error: Error) => void = () => undefined;
      const sessionGone = new Promise<never>((_resolve, reject) => {
        sessionEnded = (error) =>
          reject(new TransactionRolledBackError(`mysqlStore: the server ended the session before COMMIT (${error.message}); the transaction was rolled back, nothing was committed`, { cause: error }));
      });
      sessionGone.catch(() => undefined);
      const onError = (error: Error): void => {
        broken = true;
        sessionEnded(error);
      };
      const destroy = (c: mysql.PoolConnection): void => {
        // mysql2's destroy() takes it out of the pool but only half-closes the socket (FIN) and
        // waits for the server's: destroy the socket itself, so nothing waits on a frozen server.
        c.destroy();
        (c as mysql.PoolConnection & { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
      };
      const discard = (): void => {
        if (released || conn === undefined) return;
        released = true;
        const threadId = (conn as mysql.PoolConnection & { connection?: { threadId?: number | null } }).connection?.threadId;
        destroy(conn);
        // The server notices the closed socket only when it next reads it: a statement running or
        // waiting on a lock goes on, holding its locks (the fence's share lock on the lease row,
        // which the renewal waits for). End it from another connection; nobody waits.
        if (typeof threadId === 'number') kill(threadId);
      };
      return abandonable('mysqlStore', txOptions?.signal, async (progress) => {
        const p = await open();
        conn = await p.getConnection();
        const c = conn;
        c.on('error', onError);
        if (progress.abandoned) {
          discard();
          throw new Error('abandoned while connecting');
        }
        try {
          // Once per store: the server's kind and the sessions' character set (refused if not utf8mb4).
          await isMariadb(c);
          // What beginTransaction() sends; its OK packet also tells how the session reads
          // backslashes in strings (for telling fn's COMMIT from a string holding one).
          const [begun] = await c.query('START TRANSACTION');
          const status = (begun as Partial<mysql.ResultSetHeader>).serverStatus;
          const backslashes: BackslashMode = typeof status !== 'number' ? 'unknown' : (status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) !== 0 ? 'literal' : 'escape';
          // InnoDB rolls the whole transaction back on some errors (ENDS_TRANSACTION) and runs the
          // session's next statements in autocommit, outside the fence; COMMIT then commits
          // nothing and succeeds. After such an error (which `fn` may have caught) ask the server
          // once, before anything else runs, whether the transaction is still open.
          const ended: { check: boolean; rolledBack: boolean } = { check: false, rolledBack: false };
          const stillOpen = async (): Promise<void> => {
            if (ended.check) {
              ended.check = false;
              ended.rolledBack = !(await inTransaction(c));
            }
            if (ended.rolledBack) {
              throw new TransactionRolledBackError('mysqlStore: InnoDB rolled the transaction back after an error inside it (a deadlock or lock wait that was caught); nothing was committed, and this was not run');
            }
          };
          // Asked on this connection: a pool of one has no other to ask on.
          // A COMMIT, ROLLBACK, DDL (implicit commit)… of fn's is refused before it is sent (transaction-control.ts).
          const work = refusingTransactionControl('mysqlStore', fn, () => backslashes)(
            executor('mysql', async (sql, params) => {
              await stillOpen();
              try {
                return await runOn(c, await withGeneration(c, sql), params);
              } catch (error) {
                if (ENDS_TRANSACTION.has((error as { errno?: unknown }).errno as number)) ended.check = true;
                throw error;
              }
            }),
          );
          const result = await Promise.race([work, sessionGone]);
          await stillOpen();
          // Given up on while `fn` was finishing: never COMMIT what the caller was told did not run.
          if (progress.abandoned) throw new Error('abandoned');
          progress.commitSent = true;
          await c.commit();
          progress.committed = true;
          return result;
        } catch (error) {
          if (!progress.abandoned) {
            try {
              await c.rollback();
            } catch {
              broken = true;
            }
          }
          throw error;
        } finally {
          if (!released) {
            released = true;
            c.removeListener('error', onError);
            // A connection whose rollback failed is in an unknown state: drop it rather than reuse it.
            if (broken) destroy(c);
            else c.release();
          }
        }
      }, discard);
    },
    async close() {
      closed = true;
      if (owned) {
        const p = pool ?? (opening ? await opening.catch(() => undefined) : undefined);
        if (p) await endWithin(() => p.end(), () => sockets.forEach((socket) => socket.destroy()));
      }
    },
  });
}
