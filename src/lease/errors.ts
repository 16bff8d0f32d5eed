/**
 * Typed errors of the lease engine. Messages name the lease and tokens, never a connection
 * string: store errors pass through `redactText` before they reach a message.
 */
import type { ReplicationInfo } from './types.js';

/** Base class: `instanceof LeaseError` catches every lease-specific failure. */
export class LeaseError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** Why a held lease ended (see {@link LeaseLostError.reason}). */
export type LeaseLostReason =
  /**
   * A renewal matched no row, and its answer was handled while the holder was still valid by its
   * own clock: an operator forced a promotion, the database failed over, or (only with
   * `unsafeDisableSelfFencing`) another holder took over after the row expired.
   */
  | 'superseded'
  /**
   * No renewal succeeded before the self-fencing deadline (local monotonic clock). Also a renewal
   * answered, or rejected, after that deadline: an expired row's rejection always comes after it,
   * and a forced promotion's rejection handled after it cannot be told apart.
   */
  | 'self-fenced'
  /** The application released the lease (planned handover). */
  | 'released'
  /** The lease engine was closed. */
  | 'closed';

/**
 * The lease is no longer held: the reason of a held lease's aborted `signal`. Stop acting on the
 * hot node's behalf at once.
 */
export class LeaseLostError extends LeaseError {
  /** The fencing token of the term that ended. */
  readonly token: number;
  /** Why it ended: `superseded`, `self-fenced`, `released` or `closed`. */
  readonly reason: LeaseLostReason;
  constructor(message: string, token: number, reason: LeaseLostReason) {
    super(message);
    this.token = token;
    this.reason = reason;
  }
}

/**
 * A fenced write was refused: the token presented is not the lease's current token, the lease is
 * free, or it expired by the database's clock. Roll back the transaction.
 */
export class FencingError extends LeaseError {
  /** The lease's name. */
  readonly lease: string;
  /** The token the write presented (`undefined` when it had none). */
  readonly token: number | undefined;
  /** The lease's current token in the table, `undefined` when the lease is free or expired. */
  readonly currentToken: number | undefined;
  constructor(message: string, lease: string, token: number | undefined, currentToken: number | undefined) {
    super(message);
    this.lease = lease;
    this.token = token;
    this.currentToken = currentToken;
  }
}

/** The lease engine was closed: `acquire()` after or during `close()`. */
export class LeaseClosedError extends LeaseError {
  constructor(message = 'lease is closed') {
    super(message);
  }
}

/** What kind of permanent misconfiguration a {@link StoreConfigurationError} reports. */
export type StoreFault =
  | 'driver-missing'
  | 'authentication'
  | 'database-missing'
  | 'schema'
  | 'privileges'
  | 'location'
  | 'connection-string'
  | 'token-exhausted'
  | 'replication';

/**
 * A PERMANENT fault of the lease database's configuration: retrying cannot help, so
 * `acquire()` rejects with it (and `hotcold node` exits non-zero) instead of retrying. The
 * message names the cause and the fix; `fix` holds the fix alone. Never carries a credential.
 */
export class StoreConfigurationError extends LeaseError {
  /** Which misconfiguration it is (`driver-missing`, `authentication`, `schema`, …), for programs. */
  readonly fault: StoreFault;
  /** What to do about it, in one sentence (also the end of the message). */
  readonly fix: string;
  constructor(fault: StoreFault, what: string, fix: string, cause?: unknown) {
    super(`${what}: ${fix}`, cause === undefined ? undefined : { cause });
    this.fault = fault;
    this.fix = fix;
  }
}

/** A database driver (an optional peer dependency) is not installed. */
export class DriverMissingError extends StoreConfigurationError {
  /** The npm package to install (`mysql2`, not the `mysql2/promise` entry point). */
  readonly packageName: string;
  constructor(packageName: string, store: string, cause?: unknown) {
    const installable = packageName.startsWith('@') ? packageName.split('/').slice(0, 2).join('/') : (packageName.split('/')[0] ?? packageName);
    super('driver-missing', `${store} needs the '${installable}' package, which is not installed`, `npm install ${installable}`, cause);
    this.packageName = installable;
  }
}

/** The database refused the credentials (wrong user or password, or no access from this host). */
export class StoreAuthenticationError extends StoreConfigurationError {
  constructor(what: string, cause?: unknown) {
    super('authentication', what, 'check the user and password in the connection string (and the server\'s host-based access rules)', cause);
  }
}

/** The database named in the connection string does not exist. */
export class DatabaseMissingError extends StoreConfigurationError {
  constructor(what: string, cause?: unknown) {
    super('database-missing', what, 'create the database, or fix its name in the connection string', cause);
  }
}

/** A table the engine or node needs exists with the wrong columns (a name clash, or an old layout). */
export class StoreSchemaError extends StoreConfigurationError {
  /** The table whose shape is wrong. */
  readonly table: string;
  /** Columns the lease needs and the table lacks (empty when only their types are wrong). */
  readonly missingColumns: readonly string[];
  /** Columns of the wrong type or width, a missing key: each names the column and the problem. */
  readonly problems: readonly string[];
  constructor(table: string, missingColumns: readonly string[], cause?: unknown, problems: readonly string[] = []) {
    const what =
      missingColumns.length > 0
        ? `table '${table}' exists but lacks the column(s) ${missingColumns.join(', ')}`
        : `table '${table}' exists but has the wrong shape: ${problems.join('; ')}`;
    super(
      'schema',
      what,
      'choose another table name (the `table` option), or drop or migrate that table (`hotcold lease init --print` shows the expected DDL)',
      cause,
    );
    this.table = table;
    this.missingColumns = missingColumns;
    this.problems = problems;
  }
}

/**
 * The fencing token would leave the integers a JavaScript number holds exactly (above
 * `Number.MAX_SAFE_INTEGER`, 2^53 − 1): two different tokens would then compare equal and a stale
 * holder's fence would pass. No such token is ever issued (acquire, takeover, promote) or trusted
 * (read back from the table). Permanent: an operator must reset the lease row.
 */
export class TokenExhaustedError extends StoreConfigurationError {
  /** The lease's name. */
  readonly lease: string;
  /** The token read, or the token that would have been issued, as text (it may not fit a number). */
  readonly token: string;
  constructor(lease: string, token: string, why: string) {
    super(
      'token-exhausted',
      `lease '${lease}': fencing token ${token} ${why}; tokens must stay at or below ${Number.MAX_SAFE_INTEGER} (Number.MAX_SAFE_INTEGER) to compare exactly`,
      'stop every engine on this lease, then delete its row (it is recreated with token 0) or use a new lease name',
    );
    this.lease = lease;
    this.token = token;
  }
}

/**
 * `requireSynchronousReplication` is set and the lease database does not replicate its commits
 * synchronously (or cannot tell): a failover of it could lose an acknowledged renewal or fenced
 * write. `acquire()` rejects with it; nothing was written. `replication` says what was found.
 */
export class ReplicationModeError extends StoreConfigurationError {
  /** The lease's name. */
  readonly lease: string;
  /** What the database reported about its replication (mode and detail). */
  readonly replication: ReplicationInfo;
  constructor(lease: string, replication: ReplicationInfo) {
    super(
      'replication',
      replication.mode === 'synchronous' && replication.standbyConnected === false
        ? `lease '${lease}': requireSynchronousReplication is set but the lease database is synchronous with no standby connected: every commit would wait until one connects (${replication.detail})`
        : `lease '${lease}': requireSynchronousReplication is set but commits on the lease database are replicated '${replication.mode}' (${replication.detail})`,
      'make the lease database replicate synchronously (PostgreSQL: synchronous_standby_names and synchronous_commit = on or remote_apply; MariaDB: semi-synchronous replication, rpl_semi_sync_master_wait_point = AFTER_SYNC), or unset requireSynchronousReplication',
    );
    this.lease = lease;
    this.replication = replication;
  }
}

/**
 * The database user lacks a privilege the lease needs (SELECT, INSERT, UPDATE on its tables, or
 * CREATE to make them): `fix` says which grants to give. Permanent.
 */
export class StorePrivilegeError extends StoreConfigurationError {
  constructor(what: string, cause?: unknown) {
    super(
      'privileges',
      what,
      'grant the user SELECT, INSERT, UPDATE on the lease, idempotency and feed tables (and CREATE, or have a DBA create them with `hotcold lease init --print`)',
      cause,
    );
  }
}

/** A lease statement did not answer within `statementTimeoutMs`. */
export class LeaseTimeoutError extends LeaseError {
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not complete within ${timeoutMs} ms`);
  }
}

/**
 * An operator action (`promoteLease`, `releaseLeaseHolder`, `initLeaseTable`, `leaseStatus`,
 * `hotcold lease`) got no answer from the database within its bound (`timeoutMs`), or lost the
 * connection while a change was out. The usual cause of a change that never answers is a COMMIT
 * waiting for a synchronous standby that is not connected (PostgreSQL `synchronous_standby_names`):
 * `statement_timeout` does not end that wait, and the change becomes visible once a standby
 * connects (or an administrator cancels the wait) — so it may yet be applied.
 */
export class LeaseAdminTimeoutError extends LeaseError {
  /** The action, e.g. `promote`. */
  readonly action: string;
  /** `false`: only reads were out, nothing was changed; `undefined`: a change was sent and may or may not have been applied. */
  readonly committed: false | undefined;
  constructor(lease: string, action: string, detail: string, committed: false | undefined, options?: { cause?: unknown }) {
    super(
      committed === false
        ? `lease '${lease}': ${action}: ${detail}; nothing was changed`
        : `lease '${lease}': ${action}: ${detail}; the change was sent and MAY OR MAY NOT have been applied (a commit waiting for a synchronous standby is applied once one connects, or when the wait is cancelled on the server): check with 'hotcold lease status' before acting again`,
      options,
    );
    this.action = action;
    this.committed = committed;
  }
}

/**
 * A transient store failure that the store guarantees left nothing committed: the transaction was
 * never begun, or was rolled back before its COMMIT was sent. Safe to answer "not executed" and to
 * retry later. Subclasses name the cause.
 */
export class TransientStoreError extends LeaseError {
  /** Always false: a `TransientStoreError` is thrown only before any COMMIT was sent. */
  readonly committed = false;
}

/**
 * The caller gave up on a transaction (the `signal` passed to `LeaseStore.transaction` aborted)
 * before its COMMIT was sent. The store did not wait on the database: it discarded the connection
 * (PostgreSQL, MariaDB/MySQL: the socket is closed, and the server rolls the transaction back when
 * it sees that) or rolled back in-process (SQLite). Nothing was committed.
 */
export class TransactionAbandonedError extends TransientStoreError {}

/**
 * The DATABASE ended the transaction before COMMIT, after an error inside it that `fn` caught and
 * went on from: PostgreSQL aborts the transaction at any failed statement and answers its COMMIT
 * with a ROLLBACK; InnoDB rolls a deadlock victim back (and would run the session's next
 * statements in autocommit); SQLite rolls back on `ON CONFLICT ROLLBACK`, `RAISE(ROLLBACK)`,
 * and on FULL, IOERR or NOMEM (and would autocommit what follows). The store refuses the
 * statements issued after that and rejects `transaction()` with this error instead of resolving
 * with `fn`'s result. Also thrown, at once, when the server ends the session while `fn` runs
 * (PostgreSQL, MariaDB/MySQL: an idle-in-transaction timeout, a KILL, a restart). Nothing was
 * committed. To go on after a statement that may fail, wrap it in a `SAVEPOINT` and
 * `ROLLBACK TO SAVEPOINT` on failure (allowed: it nests inside the store's transaction).
 */
export class TransactionRolledBackError extends TransientStoreError {}

/**
 * `fn` sent a statement through the transaction handle of `store.transaction(fn)` that would end
 * or start the store's own transaction: `BEGIN`, `START TRANSACTION`, `COMMIT`, `END`,
 * `ROLLBACK`, `ABORT`, `SET autocommit`, PostgreSQL's
 * `PREPARE TRANSACTION`, MySQL's `XA`; or that would change the session's character set, in which
 * keys and payloads travel (`SET NAMES latin1`, `client_encoding`: `statement` `SET character set`) — in any case, after comments, or after other statements in
 * one text. The statement was NOT sent; the store rolled the transaction back and rejects
 * `transaction()` with this error even if `fn` caught it and went on (its later statements are
 * refused too): nothing was committed (`committed` is `false`; the node answers
 * `503 NOT_EXECUTED`). A programming error, not a transient one: the same `fn` is refused again.
 * Keywords inside strings, quoted identifiers, dollar-quoted bodies and comments do not count;
 * `SAVEPOINT`, `RELEASE [SAVEPOINT]` and `ROLLBACK TO [SAVEPOINT]` nest inside the transaction and
 * are allowed. `store.run()` refuses the same statements (and savepoints, which need a
 * transaction) with this error, unsent. The node also refuses, in its handlers' transactions on MariaDB/MySQL, the statements that
 * COMMIT implicitly there (DDL, `LOCK TABLES`, …; `statement` then ends in `(implicit commit)`).
 */
export class TransactionControlError extends LeaseError {
  /** Always false: the statement was not sent and the transaction was rolled back. */
  readonly committed = false;
  /** The refused statement's keyword(s), e.g. `COMMIT`, `ROLLBACK TO`, `SET autocommit`, `CREATE (implicit commit)`; never the statement's text. */
  readonly statement: string;
  /**
   * @param via - where the statement was sent: `fn`'s transaction handle, or `store.run()`, which
   *   runs one statement in autocommit (a `BEGIN` there stayed open on the store's connection, and
   *   the statements after it, the lease's own among them, would never commit).
   */
  constructor(store: string, statement: string, via: 'transaction' | 'run' = 'transaction') {
    super(
      via === 'run'
        ? `${store}: run() was given ${statement}; run() runs one statement in autocommit and may not start, end or reconfigure a transaction or session, so it was not sent`
        : `${store}: fn sent ${statement} through the transaction handle; only the store may end or nest its transaction, so the statement was not sent and the transaction was rolled back: nothing was committed`,
    );
    this.statement = statement;
  }
}

/**
 * The caller gave up on a transaction after its COMMIT was sent and before the database
 * acknowledged it: the store discarded the connection without waiting. Whether the transaction
 * committed is unknown (`committed` is `undefined`); only a later read can tell.
 */
export class CommitAbandonedError extends LeaseError {
  /** Always `undefined`: whether the transaction committed is unknown. */
  readonly committed: undefined = undefined;
}

/**
 * SQLite: another process held the lock this store needed (the application database's write
 * lock, or, for an instant, the lease file's) for longer than the bound, `waitedMs`. The wait was
 * asynchronous (short timers, never a synchronous busy wait on the event loop); nothing was
 * committed. Typically a frozen or very slow process holds the write lock.
 */
export class StoreBusyError extends TransientStoreError {
  /** How long the store waited for the lock before giving up, in ms. */
  readonly waitedMs: number;
  constructor(what: string, waitedMs: number, options?: { cause?: unknown }) {
    super(`${what}: the database is locked by another process; gave up after ${Math.round(waitedMs)} ms (busyTimeoutMs); nothing was committed`, options);
    this.waitedMs = waitedMs;
  }
}
