import type { IncomingMessage } from 'node:http';
import type { Observable } from 'rxjs';
import type { Lease, SqlExecutor } from '../lease/types.js';
import type { Logger } from '../shared/logger.js';
import type { NodeStatus } from '../wire.js';
import type { TelemetryOptions } from '../shared/telemetry.js';

/** What a handler gets besides its params. */
export interface HandlerContext {
  /** The fencing token this node serves under (sent as `X-Hotcold-Epoch`). */
  readonly token: number;
  /** The request's `Idempotency-Key`, when it had one. */
  readonly idempotencyKey: string | undefined;
  /**
   * Aborts the moment the lease is lost, the caller's time (`X-Hotcold-Timeout-Ms`) is spent, the
   * handler has left its transaction idle (no statement of its own running) for
   * `idleInTransactionTimeoutMs`, or the node stops (or a drain times out): stop, the transaction
   * will roll back. The node has
   * already answered "not executed" by then; it does not wait for the handler.
   */
  readonly signal: AbortSignal;
  /**
   * Runs statements in this request's transaction, already fenced with `assertHeld(token)`.
   * Writes made through it commit together with the idempotency record, or not at all. It is
   * sealed when the request ends: a late statement throws instead of running outside the
   * transaction.
   */
  readonly tx: SqlExecutor;
  /** Caller identity from `identify(req)` (default: a hash of the Authorization header, or 'anonymous'). */
  readonly caller: string;
  /** The JSON-RPC method name. */
  readonly method: string;
  /** Appends `data` to feed `name` in this transaction; resolves to its sequence number. */
  appendFeed(name: string, data: unknown): Promise<number>;
}

/** A JSON-RPC method. Its return value (JSON-serialisable) is the result. */
export type Handler<P = unknown, R = unknown> = (params: P, ctx: HandlerContext) => R | Promise<R>;

/**
 * The node's JSON-RPC methods by name. A method's params type is the handler's own (the node
 * passes the request's `params` as they came: validate them, e.g. with `invalidParams`).
 */
export type Handlers = Record<string, Handler<never, unknown>>;

/**
 * Idempotency records (`NodeOptions.dedup`): a call with an `Idempotency-Key` runs at most once
 * per caller and key; a repeat gets the stored answer. Kept in the lease database, so the
 * standby answers repeats after a failover.
 */
export interface DedupOptions {
  /**
   * Table for idempotency records (SQL identifier).
   * @defaultValue `'hotcold_idempotency'`
   */
  table?: string;
  /**
   * How long a key's result is kept, in ms. Keep it far above any client's retry deadline.
   * @defaultValue 86400000 (24 h)
   */
  ttlMs?: number;
  /**
   * How often expired records are deleted, in ms.
   * @defaultValue 600000 (10 min)
   */
  cleanupIntervalMs?: number;
}

/** Resumable feeds (`NodeOptions.feeds`): tables and long-poll bounds of method `hotcold.feed`. */
export interface FeedOptions {
  /**
   * Feed items table (SQL identifier); the counter table is `<table>_seq`.
   * @defaultValue `'hotcold_feed'`
   */
  table?: string;
  /**
   * Most items per answer (a request may ask for fewer).
   * @defaultValue 500
   */
  maxItems?: number;
  /**
   * Longest long-poll wait, in ms (a request may ask for less).
   * @defaultValue 25000
   */
  maxWaitMs?: number;
  /**
   * How often a waiting long-poll re-reads the table, in ms (appends on this node wake it at once).
   * @defaultValue 250
   */
  pollIntervalMs?: number;
}

/**
 * The node's Prometheus endpoint (`NodeOptions.metrics`): its own HTTP listener serving
 * `GET /metrics` in the Prometheus text format — the node's and its lease's instruments
 * (docs/observability.md). Started by `start()`, closed by `stop()`/`close()`.
 */
export interface MetricsOptions {
  /** TCP port of the metrics listener (not the RPC port); 0 picks a free one (see {@link HotcoldNode.metricsAddress}). */
  port: number;
  /**
   * Interface to bind. Prometheus usually scrapes from another host: then `0.0.0.0`.
   * @defaultValue the node's `host`
   */
  host?: string;
}

/**
 * Options of `createNode`. Invalid values throw `ConfigurationError` naming the field. Times are
 * milliseconds unless the name says otherwise.
 */
export interface NodeOptions {
  /** The lease (from `createLease`) this node serves under; its store holds the node's tables. The node does not close it. */
  lease: Lease;
  /** TCP port; 0 picks a free one. */
  port: number;
  /**
   * Interface to bind. Use `0.0.0.0` behind a balancer on another host.
   * @defaultValue `'127.0.0.1'`
   */
  host?: string;
  /** The JSON-RPC methods this node serves. */
  handlers: Handlers;
  /**
   * Path of the JSON-RPC endpoint.
   * @defaultValue `'/rpc'`
   */
  rpcPath?: string;
  /**
   * Path of the health check a balancer polls.
   * @defaultValue `'/health'`
   */
  healthPath?: string;
  /**
   * Idempotency by `Idempotency-Key` in the shared database; `false` turns it off.
   * @defaultValue on, with the defaults of {@link DedupOptions}
   */
  dedup?: DedupOptions | false;
  /**
   * Resumable feeds (`ctx.appendFeed`, method `hotcold.feed`); `false` turns them off.
   * @defaultValue on, with the defaults of {@link FeedOptions}
   */
  feeds?: FeedOptions | false;
  /**
   * Caller identity that idempotency keys are bound to. Must not return the credential itself.
   * @defaultValue `auth:<sha256 of the Authorization header>`, or `'anonymous'` without one
   */
  identify?: (req: IncomingMessage) => string;
  /**
   * Largest request body, in bytes. Larger requests get `413` and are not executed.
   * @defaultValue 1048576 (1 MiB)
   */
  maxBodyBytes?: number;
  /**
   * `Retry-After` (seconds) on `503 NOT_ACTIVE`.
   * @defaultValue 1
   */
  retryAfterSeconds?: number;
  /**
   * start() acquires the lease in the background, and again after losing it.
   * @defaultValue true
   */
  acquire?: boolean;
  /**
   * Drain timeout of `stop({ drain: true })` when it gives none, in ms.
   * @defaultValue 10000
   */
  drainTimeoutMs?: number;
  /**
   * The database ends a request transaction (and its session) that stays idle this long —
   * so a frozen node cannot hold the lease row's lock and block the standby's takeover.
   * PostgreSQL (per transaction) and MariaDB (per session, rounded up to seconds). The node
   * itself, on every store SQLite included, ends a call whose handler leaves its transaction idle
   * (awaiting anything but its own `ctx.tx` statement) this long: answered `503 NOT_EXECUTED`,
   * `ctx.signal` aborts — a handler that never returns would otherwise hold its slot and
   * connection (SQLite: the database's write lock) for ever while `/health` says active. `false`
   * to leave the server's setting alone and set no bound in the node.
   * @defaultValue the lease's `waitInterval / 2`
   */
  idleInTransactionTimeoutMs?: number | false;
  /**
   * Server-side bound (ms) on every statement of a node transaction — the fence, dedup claim and
   * store, feed appends and reads, the cleanup and the handler's own statements through `ctx.tx`: the
   * database itself ends a statement that waits on a lock or runs longer, even when the node
   * was killed or frozen. PostgreSQL `lock_timeout` + `statement_timeout` (per transaction);
   * MariaDB `max_statement_time` (per session) with `innodb_lock_wait_timeout` and
   * `lock_wait_timeout` rounded up to whole seconds; clamped to what the database accepts. A
   * statement that hits it fails the call as `NOT_EXECUTED`. `false` to leave the server's
   * settings alone (then a dead node waiting on a foreign lock can delay the standby's takeover
   * for as long as that lock is held).
   * @defaultValue the lease's `waitInterval / 2`
   */
  statementTimeoutMs?: number | false;
  /**
   * Most node transactions open at once — calls, each read of a `hotcold.feed` long-poll, and the
   * idempotency cleanup; more wait for a slot. Feed reads hold at most half of the slots (rounded
   * down, at least one; one at a time when unlimited), so calls always find one. Keep it below
   * the store's pool size so the lease's renewals always find a connection.
   * @defaultValue 4 on PostgreSQL (the fence's FOR KEY SHARE lock does not hold up renewals), 2 on
   * MariaDB/MySQL (its share lock does: more overlap starves the renewal and the node fences
   * itself under load), unlimited on SQLite (one connection, serialised anyway)
   */
  maxConcurrentTransactions?: number;
  /**
   * Where the node's metrics go (docs/observability.md "Node"): calls by outcome,
   * `rpc.server.call.duration`, dedup hits, transaction slot waits, feed long-polls, status.
   * Not combinable with `metrics` and a `meterProvider`: the endpoint has its own provider.
   * @defaultValue the global providers of `@opentelemetry/api` (no-ops until an SDK is registered)
   */
  telemetry?: TelemetryOptions;
  /**
   * Serve Prometheus text at `http://host:port/metrics` on a listener of its own, with the node's
   * and its lease's instruments (OpenTelemetry's SDK and Prometheus exporter, loaded only when this
   * is set). The node's instruments then go to the endpoint rather than to the global provider.
   * @defaultValue no endpoint
   */
  metrics?: MetricsOptions;
  /**
   * Where the node logs (a pino logger, or any object with `debug/info/warn/error(obj, msg)`): one
   * `info` record per JSON-RPC request (method, idempotency key, outcome, durationMs; never
   * params or headers), status changes at `info`, failures at `warn`/`error` (the
   * {@link NodeEvent}s). Give the lease the same logger for the lease's records.
   * @defaultValue none: nothing is logged
   */
  logger?: Logger;
}

/** A node's state, as {@link HotcoldNode.state$} reports it. */
export interface NodeState {
  /**
   * What `/health` says (`active`: serving; `standby`: not holding the lease; `draining`: finishing
   * in-flight calls, refusing new ones; `lost`: the lease was lost), or `stopped` after `stop()`.
   */
  status: NodeStatus | 'stopped';
  /** The token we serve (or last served) under. */
  token?: number | undefined;
  /** Monotonic ms timestamp of the change. */
  since: number;
}

/**
 * What happened on a node, on {@link HotcoldNode.events$} (switch on `type`). Texts are
 * redacted: never a credential or a request body.
 */
export type NodeEvent =
  | {
      /** The server is listening. */
      type: 'listening';
      /** The bound port. */
      port: number;
      /** The bound interface. */
      host: string;
    }
  | {
      /** The node's status changed. */
      type: 'status';
      /** The new status. */
      status: NodeState['status'];
      /** The token served under, when there is one. */
      token?: number | undefined;
    }
  | {
      /** A handler (or the node around it) failed with an unexpected error, answered `-32603`. */
      type: 'handler-error';
      /** The JSON-RPC method, or a `(phase)` such as `(request)` outside any method. */
      method: string;
      /** The error, as redacted text. */
      error: string;
    }
  | {
      /** A call's transaction was rolled back by the node (lease lost, caller's time spent, stop). */
      type: 'rolled-back';
      /** The JSON-RPC method. */
      method: string;
      /** The answer given and why, as redacted text. */
      reason: string;
    }
  | {
      /** COMMIT was sent and its outcome is unknown; the call was answered `COMMIT_UNKNOWN`. */
      type: 'commit-unknown';
      /** The JSON-RPC method. */
      method: string;
      /** The failure, as redacted text. */
      error: string;
    }
  | {
      /** Expired idempotency records were deleted. */
      type: 'cleanup';
      /** How many. */
      deleted: number;
    }
  | {
      /** Deleting expired idempotency records failed; tried again next interval. */
      type: 'cleanup-failed';
      /** The failure, as redacted text. */
      error: string;
    }
  | {
      /**
       * A JSON-RPC request was answered (or its connection ended): one per `POST` to the RPC path,
       * emitted when the response is done. Never carries params or headers.
       */
      type: 'request';
      /** The JSON-RPC method; undefined when the request was refused before it was read. */
      method: string | undefined;
      /** The `Idempotency-Key` (not a secret), when the call had one. */
      key: string | undefined;
      /**
       * `ok`; the node's refusals `NOT_ACTIVE`, `NOT_EXECUTED`, `EXPIRED`; `COMMIT_UNKNOWN`;
       * `error` (a JSON-RPC error: see `code`, or an HTTP error: see `httpStatus`); `aborted`
       * when the connection ended before an answer.
       */
      outcome: RequestOutcome;
      /** The JSON-RPC error code when `outcome` is `error` and the answer was one. */
      code?: number | undefined;
      /** The HTTP status sent (0 when none was). */
      httpStatus: number;
      /** The fencing token the call was served under, when it got that far. */
      epoch?: number | undefined;
      /** From arrival to the end of the response, in milliseconds. */
      durationMs: number;
    }
  | {
      /** Acquiring (or releasing) the lease failed. */
      type: 'acquire-failed';
      /** The failure, as redacted text. */
      error: string;
      /** A misconfiguration (`StoreConfigurationError`): the node stopped contending for the lease. */
      permanent?: boolean;
    };

/** How a request ended, in {@link NodeEvent} `request`. */
export type RequestOutcome = 'ok' | 'NOT_ACTIVE' | 'NOT_EXECUTED' | 'EXPIRED' | 'COMMIT_UNKNOWN' | 'error' | 'aborted';

/** Options of {@link HotcoldNode.stop}. */
export interface StopOptions {
  /**
   * Health → draining, refuse new calls, let in-flight calls finish, then release the lease.
   * Without it, in-flight calls are ended at once as not executed.
   * @defaultValue false
   */
  drain?: boolean;
  /**
   * Longest wait for in-flight calls, in ms (a finite number >= 0); after it they are aborted
   * (rolled back, answered 503). Anything else rejects `stop()` with a `ConfigurationError`
   * naming `timeoutMs`, and the node keeps serving.
   * @defaultValue `NodeOptions.drainTimeoutMs`
   */
  timeoutMs?: number;
}

/** Where a started node listens. */
export interface NodeAddress {
  /** The bound interface, e.g. `127.0.0.1`. */
  host: string;
  /** The bound TCP port (the real one when `port: 0` was asked). */
  port: number;
  /** `http://host:port` (no path). */
  url: string;
}

/**
 * A reference node (`createNode`): a JSON-RPC 2.0 HTTP server that executes calls only while it
 * holds the lease. Dispose of it with `stop()` or `close()`.
 */
export interface HotcoldNode {
  /**
   * Creates tables if absent, listens, and (unless `acquire: false`) acquires the lease in the
   * background. Calls while it runs or after it succeeded share its result; after it failed
   * (the port taken, the database unreachable) the next call tries again.
   * @throws the listen or database error that stopped the start; `Error('node is stopped')` after stop().
   */
  start(): Promise<NodeAddress>;
  /** Alias of start(). */
  listen(): Promise<NodeAddress>;
  /** Where it listens, once started; else undefined. */
  readonly address: NodeAddress | undefined;
  /** `http://host:port` once started; else undefined. */
  readonly url: string | undefined;
  /** Where `/metrics` is served once started with `metrics`; else undefined. */
  readonly metricsAddress: NodeAddress | undefined;
  /** The current status, synchronously. */
  readonly status: NodeState['status'];
  /** The state: replays the current one to each subscriber, then every change. */
  readonly state$: Observable<NodeState>;
  /** Listening, status changes, failures and cleanups. */
  readonly events$: Observable<NodeEvent>;
  /** Number of calls whose transactions are still open (long-polls excluded), answered or not. */
  readonly inFlight: number;
  /**
   * Stops serving, releases the lease (after draining, if asked) and closes the server (and the
   * metrics listener). Once begun, later calls return the same promise.
   * @throws {ConfigurationError} (a rejection, before anything stops) when `options.timeoutMs` is no number of ms
   */
  stop(options?: StopOptions): Promise<void>;
  /** stop() without drain; idempotent. Does not close the lease (it is the caller's). */
  close(): Promise<void>;
  /** The DDL start() runs, for a DBA to apply by hand. */
  ddl(): string[];
}
