/**
 * A REST reference node for tests, examples and the bench: the demo ledger (ledger-app.ts) over
 * plain HTTP+JSON instead of JSON-RPC, serving only while it holds the lease, with the same
 * guarantees as the JSON-RPC node (src/node): each request runs in one fenced transaction
 * together with its `Idempotency-Key` record, and every answer says truthfully whether it ran.
 *
 * | request                         | answer                                                                  |
 * | ------------------------------- | ----------------------------------------------------------------------- |
 * | `GET /health` (or `healthPath`) | `200 {"status":"active",…}` while holding the lease, else `503`         |
 * | `POST /transfers` `{from,to,amount,ref}` | `201` the new entry; the same key again → `201` the stored entry, `Idempotent-Replayed: true`; the key with another body → `422`; bad body → `400` |
 * | `GET /accounts/:id`             | `200 {"account","balance"}`, `404` for an account never used            |
 * | `GET /transfers/:ref`           | `200 [entries]`, `404` when none                                        |
 * | anything, not holding the lease | `503 {"error":"NOT_ACTIVE"}` + `Retry-After`: not executed              |
 * | rolled back before commit       | `503 {"error":"NOT_EXECUTED"\|"EXPIRED"}`: not executed                 |
 * | commit sent, not acknowledged   | `500 {"error":"COMMIT_UNKNOWN"}`: maybe                                  |
 *
 * Every answer carries `X-Hotcold-Node` and `X-Hotcold-Epoch` (and `X-Hotcold-Dedup: 1`): DESIGN §1.
 * A request's `X-Hotcold-Timeout-Ms` bounds it: a request whose time is spent is not started.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { match } from 'path-to-regexp';
import type { Lease } from '../lease/types.js';
import { HEADER_CALLER_TIMEOUT, parseCallerTimeout } from '../node/caller-deadline.js';
import { CallExecutor, type CallOutcome } from '../node/call-executor.js';
import { DedupStore, dedupDdl, dedupSchema } from '../node/dedup-store.js';
import { describeError } from '../node/describe-error.js';
import { FeedStore, feedDdl, feedSchema } from '../node/feed-store.js';
import { BodyTooLargeError, readBody, sendEmpty, sendJson } from '../node/http-io.js';
import { NodeServer } from '../node/http-server.js';
import { defaultIdentify } from '../node/identify.js';
import { NodeAnswers } from '../node/node-answers.js';
import { systemClock } from '../node/node-clock.js';
import { NodeLifecycle } from '../node/node-lifecycle.js';
import { checkStopOptions, resolveNodeOptions } from '../node/node-options.js';
import { NodeStatusTracker } from '../node/node-status.js';
import { Slots } from '../node/slots.js';
import { boundsPreparer } from '../node/transaction-bounds.js';
import type { DedupOptions, HandlerContext, HotcoldNode, NodeAddress, StopOptions } from '../node/types.js';
import { toNumber } from '../node/sql-dialect.js';
import { Log } from '../shared/logger.js';
import { requireNonNegativeInteger, requireSqlIdentifier } from '../shared/validate.js';
import { HEADER_IDEMPOTENCY_KEY, JSONRPC_INVALID_PARAMS, MAX_IDEMPOTENCY_KEY_LENGTH, type HealthBody } from '../wire.js';
import { ledgerApp, type LedgerApp } from './ledger-app.js';

/** Options of {@link createRestLedgerNode}; a bad value throws a `ConfigurationError` naming the field. */
export interface RestLedgerNodeOptions {
  /** The lease this node serves under (`createLease`, e.g. on `sqliteStore` of a temp file). */
  lease: Lease;
  /**
   * TCP port (0: a free one).
   * @default 0
   */
  port?: number;
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Ledger table prefix (`<prefix>_entries`, `<prefix>_accounts`).
   * @default 'rest_ledger'
   */
  prefix?: string;
  /**
   * Path of the health endpoint.
   * @default '/health'
   */
  healthPath?: string;
  /** Idempotency records (shared database); on by default. */
  dedup?: DedupOptions | false;
  /**
   * `Retry-After` seconds on `503 NOT_ACTIVE`.
   * @default 1
   */
  retryAfterSeconds?: number;
  /**
   * Longest drain on `stop({ drain: true })`, in ms.
   * @default 10000
   */
  drainTimeoutMs?: number;
  /**
   * After a drain, keep the listener open this long, answering `503 NOT_ACTIVE` (not executed),
   * before closing it: the balancer's health checks take the node out of rotation first, so no
   * request it forwards on a kept-alive connection meets a closing socket (which it could only
   * answer `502`, "maybe"). Like a Kubernetes preStop delay; a few health-check intervals.
   * @default 0
   */
  closeDelayMs?: number;
}

export interface RestLedgerNode extends HotcoldNode {
  /** The ledger's tables (read them with `readLedger(store, prefix)`). */
  readonly ledger: LedgerApp;
  /** The ledger's table prefix. */
  readonly prefix: string;
}

/** A handler's answer that is not a ledger write: a status and a JSON body. */
interface HttpAnswer {
  status: number;
  body: unknown;
}

const TRANSFERS = '/transfers';
const ACCOUNT = match<{ id: string }>('/accounts/:id');
const TRANSFER_BY_REF = match<{ ref: string }>('/transfers/:ref');

/**
 * Creates the REST ledger node (not started).
 * @throws {ConfigurationError} naming the field, for a bad option (`lease.machineName` when it is no visible ASCII: it is sent as `X-Hotcold-Node`)
 * @example
 * import { createLease, sqliteStore } from 'hotcold/lease';
 * import { createRestLedgerNode } from 'hotcold/testing';
 *
 * const store = sqliteStore('/tmp/ledger.db');
 * const lease = createLease({ store, machineName: 'node-a', mode: 'warm' });
 * const node = createRestLedgerNode({ lease, port: 0 });
 * const { url } = await node.start();   // POST `${url}/transfers` once it is active
 */
export function createRestLedgerNode(options: RestLedgerNodeOptions): RestLedgerNode {
  const prefix = requireSqlIdentifier('prefix', options.prefix ?? 'rest_ledger');
  const closeDelayMs = options.closeDelayMs === undefined ? 0 : requireNonNegativeInteger('closeDelayMs', options.closeDelayMs);
  const app = ledgerApp({ prefix, feed: `${prefix}_feed` });
  const opts = resolveNodeOptions({
    lease: options.lease,
    port: options.port ?? 0,
    handlers: app.handlers,
    ...(options.host === undefined ? {} : { host: options.host }),
    ...(options.healthPath === undefined ? {} : { healthPath: options.healthPath }),
    ...(options.dedup === undefined ? {} : { dedup: options.dedup }),
    ...(options.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: options.retryAfterSeconds }),
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    feeds: { table: `${prefix}_feed` },
  });
  const { lease } = opts;
  const store = lease.store;
  const dialect = store.dialect;
  const clock = systemClock;
  const machine = opts.machine;
  const dedup = opts.dedup === false ? undefined : new DedupStore(dialect, opts.dedup.table);
  const feeds = opts.feeds === false ? undefined : new FeedStore(dialect, opts.feeds.table, opts.feeds.counterTable);
  const slots = new Slots(opts.maxConcurrentTransactions ?? (dialect === 'postgres' ? 4 : dialect === 'mysql' ? 2 : Number.POSITIVE_INFINITY));
  const status = new NodeStatusTracker(lease, clock, machine, new Log(opts.logger, 'node', store.secrets));
  const answers = new NodeAnswers(machine, dedup !== undefined, opts.retryAfterSeconds, status);
  const prepare = boundsPreparer(dialect, { statementMs: opts.statementTimeoutMs, idleMs: opts.idleInTransactionTimeoutMs }, (sql, error) =>
    status.emit({ type: 'handler-error', method: '(transaction bounds)', error: `not supported, skipped: ${sql}: ${describeError(error)}` }),
  );
  const executor = new CallExecutor({ lease, dedup, feeds, slots, clock, prepare, emit: (e) => status.emit(e), onCommittedAppends: () => undefined });

  function ddl(): string[] {
    const statements: string[] = [];
    if (opts.dedup !== false) statements.push(...dedupDdl(dialect, opts.dedup.table));
    if (opts.feeds !== false) statements.push(...feedDdl(dialect, opts.feeds.table, opts.feeds.counterTable));
    statements.push(...app.ddl(dialect));
    return statements;
  }

  const lifecycle = new NodeLifecycle({
    lease,
    store,
    status,
    clock,
    ddl,
    schema: () => [
      ...(opts.dedup === false ? [] : dedupSchema(dialect, opts.dedup.table)),
      ...(opts.feeds === false ? [] : feedSchema(dialect, opts.feeds.table, opts.feeds.counterTable)),
    ],
    dedup: dedup && opts.dedup !== false ? { store: dedup, ttlMs: opts.dedup.ttlMs, cleanupIntervalMs: opts.dedup.cleanupIntervalMs } : undefined,
    feeds: undefined,
    acquire: opts.acquire,
    prepare,
    slots,
  });

  async function readAccount(_params: unknown, ctx: HandlerContext): Promise<HttpAnswer> {
    const account = (_params as { account: string }).account;
    const rows = await ctx.tx.query(`SELECT balance FROM ${app.accountsTable} WHERE account = ?`, [account]);
    const row = rows[0];
    return row === undefined ? { status: 404, body: { error: 'NOT_FOUND', account } } : { status: 200, body: { account, balance: toNumber(row.balance) } };
  }

  async function readTransfers(params: unknown, ctx: HandlerContext): Promise<HttpAnswer> {
    const ref = (params as { ref: string }).ref;
    const rows = await ctx.tx.query(`SELECT id, from_account, to_account, amount, token FROM ${app.entriesTable} WHERE ref = ? ORDER BY id`, [ref]);
    if (rows.length === 0) return { status: 404, body: { error: 'NOT_FOUND', ref } };
    return {
      status: 200,
      body: rows.map((r) => ({ id: toNumber(r.id), ref, from: String(r.from_account), to: String(r.to_account), amount: toNumber(r.amount), token: toNumber(r.token) })),
    };
  }

  function answer(res: ServerResponse, token: number, outcome: CallOutcome, created: boolean): void {
    switch (outcome.kind) {
      case 'result':
      case 'stored': {
        const extra: Record<string, string> = outcome.kind === 'stored' ? { 'idempotent-replayed': 'true' } : {};
        if (created) {
          sendJson(res, 201, { ...answers.headers(token), ...extra }, outcome.result);
        } else {
          const a = outcome.result as HttpAnswer;
          sendJson(res, a.status, { ...answers.headers(token), ...extra }, a.body);
        }
        return;
      }
      case 'conflict':
        // IETF httpapi Idempotency-Key draft §2.7: a key reused with another payload is 422.
        sendJson(res, 422, answers.headers(token), {
          error: 'IDEMPOTENCY_KEY_REUSED',
          message: outcome.reason === 'caller' ? 'this Idempotency-Key was used by another caller' : 'this Idempotency-Key was used with another request',
        });
        return;
      case 'rpc-error':
        if (outcome.code === JSONRPC_INVALID_PARAMS) {
          sendJson(res, 400, answers.headers(token), { error: 'INVALID', message: outcome.message });
        } else {
          // The handler failed and its transaction rolled back; a REST caller is told 500 with
          // the node's headers, which a hotcold client reads as "maybe" (it cannot tell more).
          sendJson(res, 500, answers.headers(token), { error: 'INTERNAL', message: 'internal error' });
        }
        return;
      case 'not-executed':
        answers.notExecuted(res, token, outcome.error, outcome.reason.slice(0, 200));
        return;
      case 'commit-unknown':
        answers.commitUnknown(res, token, 'the commit of this request was sent but not acknowledged; it may have executed');
        return;
    }
  }

  function serveHealth(req: IncomingMessage, res: ServerResponse): void {
    const held = status.activeLease();
    const body: HealthBody = { status: held ? 'active' : status.wireStatus(), node: status.machine };
    const token = held?.token ?? status.servedToken;
    if (token !== undefined) body.epoch = token;
    if (req.method === 'HEAD') sendEmpty(res, held ? 200 : 503, answers.headers(held?.token));
    else sendJson(res, held ? 200 : 503, answers.headers(held?.token), body);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const arrival = clock.now();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const method = req.method ?? 'GET';
    if (path === opts.healthPath && (method === 'GET' || method === 'HEAD')) {
      req.resume();
      serveHealth(req, res);
      return;
    }
    const account = ACCOUNT(path);
    const byRef = TRANSFER_BY_REF(path);
    const known = path === TRANSFERS || account !== false || byRef !== false;
    if (!known) {
      req.resume();
      sendJson(res, 404, answers.headers(), { error: 'NOT_FOUND' });
      return;
    }
    const allowed = path === TRANSFERS ? 'POST' : 'GET';
    if (method !== allowed) {
      req.resume();
      sendJson(res, 405, { ...answers.headers(), allow: allowed }, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    // Refuse before reading the body: a standby must not even look at the request.
    if (!status.activeLease()) {
      req.resume();
      answers.notActive(res, 'this node does not hold the lease; the request was not executed', lease.state.token);
      return;
    }
    const rawKey = req.headers[HEADER_IDEMPOTENCY_KEY];
    const key = typeof rawKey === 'string' ? rawKey : undefined;
    // Control characters are what this test looks for (a header value must not carry them).
    // eslint-disable-next-line no-control-regex
    if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || /[\x00-\x1f\x7f]/.test(key))) {
      req.resume();
      sendJson(res, 400, answers.headers(), { error: 'INVALID', message: `Idempotency-Key must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters; not executed` });
      return;
    }
    const timeout = parseCallerTimeout(req.headers[HEADER_CALLER_TIMEOUT]);
    if (timeout === 'invalid') {
      req.resume();
      sendJson(res, 400, answers.headers(), { error: 'INVALID', message: 'X-Hotcold-Timeout-Ms must be a whole number of milliseconds; not executed' });
      return;
    }
    let params: unknown;
    let handler: (params: never, ctx: HandlerContext) => unknown;
    let name: string;
    if (path === TRANSFERS) {
      let text: string;
      try {
        text = await readBody(req, opts.maxBodyBytes);
      } catch (error) {
        if (error instanceof BodyTooLargeError) sendJson(res, 413, { ...answers.headers(), connection: 'close' }, { error: 'TOO_LARGE' });
        else res.destroy();
        return;
      }
      try {
        params = JSON.parse(text) as unknown;
      } catch {
        sendJson(res, 400, answers.headers(), { error: 'INVALID', message: 'the body is not JSON; not executed' });
        return;
      }
      handler = app.handlers.transfer as (params: never, ctx: HandlerContext) => unknown;
      name = 'POST /transfers';
    } else {
      req.resume();
      if (account !== false) {
        params = { account: decodeURIComponent(account.params.id) };
        handler = readAccount;
        name = 'GET /accounts/:id';
      } else {
        params = { ref: decodeURIComponent((byRef as { params: { ref: string } }).params.ref) };
        handler = readTransfers;
        name = 'GET /transfers/:ref';
      }
    }
    // The decisive check, synchronously right before executing.
    const held = status.activeLease();
    if (!held || held.signal.aborted) {
      answers.notActive(res, 'this node does not hold the lease; the request was not executed', lease.state.token);
      return;
    }
    const execution = executor.execute({
      method: name,
      params,
      // Reads are not recorded: only the ledger write is deduplicated.
      key: path === TRANSFERS ? key : undefined,
      caller: (opts.identify ?? defaultIdentify)(req),
      handler,
      held,
      deadline: timeout === undefined ? undefined : arrival + timeout,
    });
    lifecycle.track(execution);
    const onClose = (): void => {
      if (!res.writableEnded) execution.abandon();
    };
    res.once('close', onClose);
    try {
      answer(res, held.token, await execution.outcome, path === TRANSFERS);
    } finally {
      res.off('close', onClose);
    }
  }

  const server = new NodeServer((req, res) => {
    route(req, res).catch((error: unknown) => {
      status.emit({ type: 'handler-error', method: '(request)', error: describeError(error) });
      if (!res.headersSent) answers.commitUnknown(res, undefined, 'internal error in the node; the request may have executed');
      else res.destroy();
    });
  });

  let address: NodeAddress | undefined;
  let started: Promise<NodeAddress> | undefined;
  let stopping: Promise<void> | undefined;

  async function start(): Promise<NodeAddress> {
    if (status.stopping) throw new Error('node is stopped');
    await lifecycle.createTables();
    await app.setup(store);
    const bound = await server.listen(opts.port, opts.host);
    if (status.stopping) {
      await server.close();
      throw new Error('node is stopped');
    }
    address = bound;
    status.emit({ type: 'listening', port: bound.port, host: bound.host });
    lifecycle.begin();
    return bound;
  }

  async function doStop(stopOptions: StopOptions): Promise<void> {
    await lifecycle.stop(stopOptions, opts.drainTimeoutMs);
    if (stopOptions.drain === true && closeDelayMs > 0) await new Promise<void>((resolve) => clock.setTimer(resolve, closeDelayMs));
    status.stopped = true;
    status.publish();
    await server.close();
    status.complete();
  }

  const node: RestLedgerNode = {
    ledger: app,
    prefix,
    start() {
      started ??= start();
      return started;
    },
    listen() {
      return node.start();
    },
    get address() {
      return address;
    },
    get url() {
      return address?.url;
    },
    // The REST ledger node serves no Prometheus endpoint.
    get metricsAddress() {
      return undefined;
    },
    get status() {
      return status.status();
    },
    state$: status.state$.asObservable(),
    events$: status.events$.asObservable(),
    get inFlight() {
      return lifecycle.inFlight;
    },
    stop(stopOptions: StopOptions = {}) {
      if (stopping === undefined) {
        try {
          checkStopOptions(stopOptions);
        } catch (error) {
          return Promise.reject(error);
        }
      }
      stopping ??= doStop(stopOptions);
      return stopping;
    },
    close: () => node.stop({ drain: false }),
    ddl,
  };
  return node;
}
