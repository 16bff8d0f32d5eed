import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { BehaviorSubject, Subject, type Observable } from 'rxjs';
import { StoreConfigurationError } from '../lease/errors.js';
import type { HeldLease, SqlExecutor } from '../lease/types.js';
import { monotonicNow } from '../shared/clock.js';
import { redactText } from '../shared/redact.js';
import { sleep } from '../shared/sleep.js';
import {
  FEED_METHOD,
  HEADER_DEDUP,
  HEADER_EPOCH,
  HEADER_IDEMPOTENCY_KEY,
  HEADER_NODE,
  HOTCOLD_KEY_CONFLICT,
  JSONRPC_INTERNAL_ERROR,
  JSONRPC_INVALID_PARAMS,
  JSONRPC_INVALID_REQUEST,
  JSONRPC_METHOD_NOT_FOUND,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type HealthBody,
  type JsonRpcId,
  type JsonRpcResponse,
  type NodeStatus,
  type NotActiveBody,
} from '../wire.js';
import { DedupStore, dedupDdl, dedupSchema } from './dedup-store.js';
import { FeedStore, feedDdl, feedSchema } from './feed-store.js';
import { FeedWaiters } from './feed-waiters.js';
import { BodyTooLargeError, readBody, sendEmpty, sendJson } from './http-io.js';
import { defaultIdentify } from './identify.js';
import { errorResponse, parseRequest, resultResponse } from './json-rpc.js';
import { resolveNodeOptions } from './node-options.js';
import { RpcError } from './rpc-error.js';
import { sealedExecutor } from './sealed-executor.js';
import { Slots } from './slots.js';
import { ensureSchemaRetrying, idleTransactionTimeout, isRetryableConflict } from './sql-dialect.js';
import type { HandlerContext, HotcoldNode, NodeAddress, NodeEvent, NodeOptions, NodeState, StopOptions } from './types.js';

/** The lease went away while a call ran: its transaction is rolled back, the answer is NOT_ACTIVE. */
class LeaseLostError extends Error {
  constructor(reason: string) {
    super(reason);
    this.name = 'LeaseLostError';
  }
}

function isFencingError(error: unknown): boolean {
  const name = (error as { name?: unknown } | null)?.name;
  return error instanceof LeaseLostError || name === 'FencingError' || name === 'LeaseLostError';
}

function describe(error: unknown): string {
  return redactText(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}

/** Rejects with the signal's reason when it aborts first; the promise itself is left to settle. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

interface Call {
  controller: AbortController;
  settled: Promise<void>;
}

type Outcome =
  | { kind: 'result'; result: unknown; feeds: string[] }
  | { kind: 'stored'; result: unknown }
  | { kind: 'conflict'; reason: 'params' | 'caller' };

/**
 * Creates the reference node: a JSON-RPC 2.0 HTTP server that executes calls only while it
 * holds the lease, each in one fenced database transaction together with its idempotency record
 * and feed appends.
 */
export function createNode(options: NodeOptions): HotcoldNode {
  const opts = resolveNodeOptions(options);
  const { lease } = opts;
  const store = lease.store;
  const dialect = store.dialect;
  const machine = lease.options?.machineName ?? lease.holderId.split('#')[0] ?? 'node';
  const dedup = opts.dedup === false ? undefined : new DedupStore(dialect, opts.dedup.table);
  const feeds = opts.feeds === false ? undefined : new FeedStore(dialect, opts.feeds.table, opts.feeds.counterTable);
  const identify = opts.identify ?? defaultIdentify;
  const waiters = new FeedWaiters();
  // PostgreSQL: the fence takes FOR KEY SHARE, which the renewal does not wait for, so several
  // may overlap (bounded below the pool size so renewals find a connection). InnoDB's share lock
  // does hold up the renewal: keep the overlap small. SQLite serialises on its one connection.
  const slots = new Slots(opts.maxConcurrentTransactions ?? (dialect === 'postgres' ? 4 : dialect === 'mysql' ? 2 : Number.POSITIVE_INFINITY));

  const state$ = new BehaviorSubject<NodeState>({ status: 'standby', since: monotonicNow() });
  const events$ = new Subject<NodeEvent>();
  const calls = new Set<Call>();
  const longPolls = new Set<AbortController>();
  const sockets = new Set<Socket>();
  const acquireController = new AbortController();
  let servedToken: number | undefined;
  let draining = false;
  let stopping = false;
  let stopped = false;
  let started: Promise<NodeAddress> | undefined;
  let stopPromise: Promise<void> | undefined;
  let address: NodeAddress | undefined;
  let cleanupTimer: NodeJS.Timeout | undefined;
  let leaseSubscription: { unsubscribe(): void } | undefined;
  let acquireLoop: Promise<void> | undefined;

  /** The held lease if this node may execute a call right now (checked synchronously). */
  function activeLease(): HeldLease | undefined {
    if (draining || stopping) return undefined;
    const held = lease.current;
    return held !== undefined && held.isValid() ? held : undefined;
  }

  function currentStatus(): NodeState['status'] {
    if (stopped) return 'stopped';
    if (draining) return 'draining';
    if (stopping) return 'lost';
    if (activeLease()) return 'active';
    return lease.state.status === 'lost' ? 'lost' : 'standby';
  }

  function publish(): void {
    const status = currentStatus();
    const last = state$.getValue();
    if (last.status === status && last.token === servedToken) return;
    state$.next({ status, token: servedToken, since: monotonicNow() });
    events$.next({ type: 'status', status, token: servedToken });
  }

  function headers(token: number | undefined): Record<string, string> {
    const h: Record<string, string> = { [HEADER_NODE]: machine, [HEADER_EPOCH]: String(token ?? servedToken ?? 0) };
    if (dedup) h[HEADER_DEDUP] = '1';
    return h;
  }

  function wireStatus(): NodeStatus {
    const status = currentStatus();
    return status === 'stopped' ? 'draining' : status;
  }

  function notActive(res: ServerResponse, message: string): void {
    const status = wireStatus();
    const body: NotActiveBody = {
      error: 'NOT_ACTIVE',
      status: status === 'active' ? 'lost' : status,
      node: machine,
      message,
    };
    const holderToken = lease.state.token;
    if (typeof holderToken === 'number') body.epoch = holderToken;
    sendJson(res, 503, { ...headers(undefined), 'retry-after': String(opts.retryAfterSeconds) }, body);
  }

  function answer(res: ServerResponse, token: number | undefined, response: JsonRpcResponse, notification: boolean): void {
    if (notification) sendEmpty(res, 204, headers(token));
    else sendJson(res, 200, headers(token), response);
  }

  function serveHealth(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { ...headers(undefined), allow: 'GET, HEAD' }, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    const held = activeLease();
    const body: HealthBody = { status: held ? 'active' : wireStatus(), node: machine };
    const token = held?.token ?? servedToken;
    if (token !== undefined) body.epoch = token;
    if (req.method === 'HEAD') sendEmpty(res, held ? 200 : 503, headers(held?.token));
    else sendJson(res, held ? 200 : 503, headers(held?.token), body);
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    if (path === opts.healthPath) {
      serveHealth(req, res);
      return;
    }
    if (path !== opts.rpcPath) {
      req.resume();
      sendJson(res, 404, headers(undefined), { error: 'NOT_FOUND' });
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { ...headers(undefined), allow: 'POST' }, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    // Refuse before reading the body: a standby must not even look at the call.
    if (!activeLease()) {
      req.resume();
      notActive(res, 'this node does not hold the lease; the request was not executed');
      return;
    }
    let body: string;
    try {
      body = await readBody(req, opts.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendJson(res, 413, { ...headers(undefined), connection: 'close' }, errorResponse(null, { code: JSONRPC_INVALID_REQUEST, message: 'request body too large; not executed' }));
      } else {
        res.destroy();
      }
      return;
    }
    const parsed = parseRequest(body);
    if (!parsed.ok) {
      sendJson(res, 200, headers(undefined), parsed.response);
      return;
    }
    const { id, notification, method, params } = parsed;
    const rawKey = req.headers[HEADER_IDEMPOTENCY_KEY];
    const key = typeof rawKey === 'string' ? rawKey : undefined;
    if (key !== undefined && (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || /[\x00-\x1f\x7f]/.test(key))) {
      answer(res, undefined, errorResponse(id, { code: JSONRPC_INVALID_REQUEST, message: `Idempotency-Key must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters` }), notification);
      return;
    }
    if (method === FEED_METHOD && feeds) {
      await serveFeed(res, id, params);
      return;
    }
    const handler = opts.handlers.get(method);
    if (!handler) {
      answer(res, undefined, errorResponse(id, { code: JSONRPC_METHOD_NOT_FOUND, message: 'method not found' }), notification);
      return;
    }
    let caller: string;
    try {
      caller = identify(req);
      if (typeof caller !== 'string' || caller.length === 0) throw new Error('identify() must return a non-empty string');
    } catch (error) {
      events$.next({ type: 'handler-error', method, error: describe(error) });
      answer(res, undefined, errorResponse(id, { code: JSONRPC_INTERNAL_ERROR, message: 'internal error' }), notification);
      return;
    }
    // The decisive check, synchronously right before executing.
    const held = activeLease();
    if (!held || held.signal.aborted) {
      notActive(res, 'this node does not hold the lease; the request was not executed');
      return;
    }
    await execute(res, held, { id, notification, method, params, key, caller, handler });
  }

  async function execute(
    res: ServerResponse,
    held: HeldLease,
    call: {
      id: JsonRpcId | null;
      notification: boolean;
      method: string;
      params: unknown;
      key: string | undefined;
      caller: string;
      handler: (params: never, ctx: HandlerContext) => unknown;
    },
  ): Promise<void> {
    const controller = new AbortController();
    const onLost = (): void => controller.abort(new LeaseLostError('the lease was lost while the call ran'));
    held.signal.addEventListener('abort', onLost, { once: true });
    let settle!: () => void;
    const entry: Call = { controller, settled: new Promise<void>((resolve) => (settle = resolve)) };
    calls.add(entry);
    const token = held.token;
    // Mutated inside the transaction callback; an object keeps TS from narrowing it to 'fence'.
    const progress: { phase: 'fence' | 'body' | 'commit' } = { phase: 'fence' };
    try {
      const attempt = (): Promise<Outcome> => store.transaction<Outcome>(async (tx) => {
        let open = true;
        try {
          if (idleStatement !== undefined) await applyIdleTimeout(tx, idleStatement);
          await lease.assertHeld(tx, token);
          if (controller.signal.aborted) throw controller.signal.reason;
          if (call.key !== undefined && dedup) {
            const claim = await raceAbort(dedup.claim(tx, { key: call.key, caller: call.caller, method: call.method, params: call.params ?? null, token }), controller.signal);
            if (claim.kind === 'done') return { kind: 'stored', result: claim.result };
            if (claim.kind === 'conflict') return claim;
          }
          progress.phase = 'body';
          const appended: string[] = [];
          // Everything the handler can reach goes through the seal, feed appends included: an
          // append is several statements, and one issued after a rollback must not autocommit.
          const sealed = sealedExecutor(tx, () => open);
          const ctx: HandlerContext = {
            token,
            idempotencyKey: call.key,
            signal: controller.signal,
            tx: sealed,
            caller: call.caller,
            method: call.method,
            appendFeed: async (name: string, data: unknown): Promise<number> => {
              if (!feeds) throw new Error('feeds are disabled on this node (feeds: false)');
              if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new TypeError('feed name must be 1..200 characters');
              if (!open) throw new Error('the request transaction is over; the feed item was not appended');
              const seq = await feeds.append(sealed, name, data);
              if (!appended.includes(name)) appended.push(name);
              return seq;
            },
          };
          const result = await raceAbort(
            Promise.resolve().then(() => call.handler(call.params as never, ctx)),
            controller.signal,
          );
          if (JSON.stringify(result ?? null) === undefined) throw new Error('handler result is not JSON-serialisable');
          if (call.key !== undefined && dedup) await raceAbort(dedup.complete(tx, call.key, result), controller.signal);
          // The lease's abort signal is timer-driven and may fire late; the clock check is not.
          if (controller.signal.aborted) throw controller.signal.reason;
          if (!held.isValid()) throw new LeaseLostError('the lease expired while the call ran');
          progress.phase = 'commit';
          return { kind: 'result', result, feeds: appended };
        } finally {
          open = false;
        }
      });
      let outcome: Outcome | undefined;
      for (let tries = 1; outcome === undefined; tries += 1) {
        try {
          outcome = await slots.run(controller.signal, attempt);
        } catch (error) {
          // The database chose this transaction as a deadlock victim and rolled it back:
          // nothing ran, so running it again is safe (and what the caller wants).
          if (tries < 4 && isRetryableConflict(error) && progress.phase !== 'commit' && !controller.signal.aborted) {
            progress.phase = 'fence';
            continue;
          }
          throw error;
        }
      }
      if (outcome.kind === 'conflict') {
        answer(
          res,
          token,
          errorResponse(call.id, {
            code: HOTCOLD_KEY_CONFLICT,
            message:
              outcome.reason === 'caller'
                ? 'this Idempotency-Key was used by another caller'
                : 'this Idempotency-Key was used with a different method or params',
          }),
          call.notification,
        );
        return;
      }
      if (outcome.kind === 'result') for (const feed of outcome.feeds) waiters.wake(feed);
      // Committed: the answer is the result even if the lease was lost a moment later.
      answer(res, token, resultResponse(call.id, outcome.result), call.notification);
    } catch (error) {
      if (progress.phase === 'commit' && !isFencingError(error)) {
        // The commit itself failed: it may or may not have happened. Only a broken connection
        // says that truthfully (the client classifies it as unknown outcome).
        events$.next({ type: 'commit-unknown', method: call.method, error: describe(error) });
        res.destroy();
        return;
      }
      if (isFencingError(error) || controller.signal.aborted || !held.isValid()) {
        events$.next({ type: 'rolled-back', method: call.method, reason: describe(error) });
        notActive(res, 'the lease was lost before this call committed; it was rolled back and not executed');
        return;
      }
      if (error instanceof RpcError) {
        answer(res, token, errorResponse(call.id, { code: error.code, message: error.message, data: error.data }), call.notification);
        return;
      }
      events$.next({ type: 'handler-error', method: call.method, error: describe(error) });
      answer(res, token, errorResponse(call.id, { code: JSONRPC_INTERNAL_ERROR, message: 'internal error' }), call.notification);
    } finally {
      held.signal.removeEventListener('abort', onLost);
      calls.delete(entry);
      settle();
    }
  }

  function feedParams(params: unknown): { feed: string; after: number; max: number; waitMs: number } | string {
    if (typeof params !== 'object' || params === null || Array.isArray(params)) return 'params must be an object {feed, after, max?, waitMs?}';
    const p = params as Record<string, unknown>;
    if (typeof p.feed !== 'string' || p.feed.length === 0 || p.feed.length > 200) return 'feed must be a string of 1..200 characters';
    const after = p.after === undefined ? 0 : p.after;
    if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) return 'after must be an integer >= 0';
    if (!opts.feeds) return 'feeds are disabled';
    const max = p.max === undefined ? opts.feeds.maxItems : p.max;
    if (typeof max !== 'number' || !Number.isSafeInteger(max) || max <= 0) return 'max must be a positive integer';
    const waitMs = p.waitMs === undefined ? 0 : p.waitMs;
    if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0) return 'waitMs must be a number >= 0';
    return { feed: p.feed, after, max: Math.min(max, opts.feeds.maxItems), waitMs: Math.min(waitMs, opts.feeds.maxWaitMs) };
  }

  /** `hotcold.feed`: a long-poll read. Read-only, so it needs no fencing, only the active check. */
  async function serveFeed(res: ServerResponse, id: JsonRpcId | null, params: unknown): Promise<void> {
    const p = feedParams(params);
    if (typeof p === 'string') {
      sendJson(res, 200, headers(undefined), errorResponse(id, { code: JSONRPC_INVALID_PARAMS, message: p }));
      return;
    }
    if (!feeds || !opts.feeds) return;
    const pollIntervalMs = opts.feeds.pollIntervalMs;
    const controller = new AbortController();
    const onClose = (): void => controller.abort();
    res.once('close', onClose);
    longPolls.add(controller);
    const deadline = monotonicNow() + p.waitMs;
    try {
      for (;;) {
        const held = activeLease();
        if (!held) {
          // Draining or stopping: the long-poll ends with what there is (nothing), so the
          // client asks again and is routed to the node that holds the lease next.
          if (draining || stopping) {
            sendJson(res, 200, headers(servedToken), resultResponse(id, { items: [], last: p.after }));
          } else {
            notActive(res, 'this node does not hold the lease');
          }
          return;
        }
        const items = await store.transaction((tx) => feeds.read(tx, p.feed, p.after, p.max));
        const remaining = deadline - monotonicNow();
        if (items.length > 0 || remaining <= 0 || controller.signal.aborted) {
          const last = items.length > 0 ? (items[items.length - 1]?.seq ?? p.after) : p.after;
          sendJson(res, 200, headers(held.token), resultResponse(id, { items, last }));
          return;
        }
        // Not AbortSignal.any: its dependent signals live as long as the (long-lived) lease signal.
        const onLost = (): void => controller.abort();
        held.signal.addEventListener('abort', onLost, { once: true });
        try {
          await waiters.wait(p.feed, Math.min(pollIntervalMs, remaining), controller.signal);
        } finally {
          held.signal.removeEventListener('abort', onLost);
        }
      }
    } catch (error) {
      events$.next({ type: 'handler-error', method: FEED_METHOD, error: describe(error) });
      sendJson(res, 200, headers(undefined), errorResponse(id, { code: JSONRPC_INTERNAL_ERROR, message: 'internal error' }));
    } finally {
      res.off('close', onClose);
      longPolls.delete(controller);
    }
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch((error: unknown) => {
      events$.next({ type: 'handler-error', method: '(request)', error: describe(error) });
      if (!res.headersSent) sendJson(res, 500, headers(undefined), errorResponse(null, { code: JSONRPC_INTERNAL_ERROR, message: 'internal error' }));
      else res.destroy();
    });
  });
  // Longer than the dev balancer's idle keep-alive, so the proxy never reuses a socket the node
  // is closing at the same moment (which would turn a never-delivered call into a 502).
  server.keepAliveTimeout = 15_000;
  server.headersTimeout = 20_000;
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });

  const idleStatement = opts.idleInTransactionTimeoutMs === false ? undefined : idleTransactionTimeout(dialect, opts.idleInTransactionTimeoutMs);
  let idleUnsupported = false;
  async function applyIdleTimeout(tx: SqlExecutor, statement: string): Promise<void> {
    if (idleUnsupported) return;
    try {
      await tx.execute(statement);
    } catch (error) {
      // MySQL proper has no idle_transaction_timeout (MariaDB has); a failed SET leaves an
      // InnoDB transaction usable. On PostgreSQL the setting always exists.
      if (dialect !== 'mysql') throw error;
      idleUnsupported = true;
      events$.next({ type: 'handler-error', method: '(idle timeout)', error: `idle_transaction_timeout not supported: ${describe(error)}` });
    }
  }

  function ddl(): string[] {
    const statements: string[] = [];
    if (opts.dedup !== false) statements.push(...dedupDdl(dialect, opts.dedup.table));
    if (opts.feeds !== false) statements.push(...feedDdl(dialect, opts.feeds.table, opts.feeds.counterTable));
    return statements;
  }

  async function createTables(): Promise<void> {
    // Catalog first, DDL only for what is missing, every lock wait bounded: a node starting must
    // not queue DDL behind the active node's open transactions (see src/lease/schema.ts).
    const objects = [
      ...(opts.dedup === false ? [] : dedupSchema(dialect, opts.dedup.table)),
      ...(opts.feeds === false ? [] : feedSchema(dialect, opts.feeds.table, opts.feeds.counterTable)),
    ];
    await ensureSchemaRetrying(store, objects, `hotcold-node:${objects.map((o) => o.name).join(',')}`, (error) =>
      events$.next({ type: 'handler-error', method: '(create tables)', error: `retrying: ${describe(error)}` }),
    );
  }

  async function cleanup(): Promise<void> {
    const held = activeLease();
    if (!held || !dedup || opts.dedup === false) return;
    const ttlMs = opts.dedup.ttlMs;
    try {
      const deleted = await store.transaction(async (tx) => {
        await lease.assertHeld(tx, held.token);
        return dedup.cleanup(tx, ttlMs);
      });
      if (deleted > 0) events$.next({ type: 'cleanup', deleted });
    } catch (error) {
      events$.next({ type: 'cleanup-failed', error: describe(error) });
    }
  }

  async function runAcquireLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try {
        const held = await lease.acquire({ signal });
        servedToken = held.token;
        publish();
        await new Promise<void>((resolve) => {
          if (held.signal.aborted || signal.aborted) return resolve();
          const done = (): void => {
            held.signal.removeEventListener('abort', done);
            signal.removeEventListener('abort', done);
            resolve();
          };
          held.signal.addEventListener('abort', done, { once: true });
          signal.addEventListener('abort', done, { once: true });
        });
        publish();
        // Cold mode: a lost lease stays lost until an operator promotes this node again.
        if (lease.options.mode === 'cold') return;
      } catch (error) {
        if (signal.aborted) return;
        // Misconfiguration (driver, login, database, table, privileges): retrying cannot cure it.
        if (error instanceof StoreConfigurationError) {
          events$.next({ type: 'acquire-failed', error: describe(error), permanent: true });
          return;
        }
        events$.next({ type: 'acquire-failed', error: describe(error) });
        await sleep(1000, signal).catch(() => undefined);
      }
    }
  }

  async function start(): Promise<NodeAddress> {
    if (stopping) throw new Error('node is stopped');
    await createTables();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // stop() ran while we were creating tables or binding: it found nothing listening, so undo
    // the bind here rather than start a subscription and a timer nothing will end.
    if (stopping) {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      throw new Error('node is stopped');
    }
    const info = server.address() as AddressInfo;
    const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
    address = { host: info.address, port: info.port, url: `http://${host}:${info.port}` };
    events$.next({ type: 'listening', port: info.port, host: info.address });
    leaseSubscription = lease.state$.subscribe((s) => {
      if (s.status === 'active' && typeof s.token === 'number') {
        servedToken = s.token;
        // Every in-flight call and waiting feed poll listens on the tenure's signal: not a leak.
        const current = lease.current;
        if (current) setMaxListeners(0, current.signal);
      }
      publish();
    });
    if (opts.dedup !== false) {
      cleanupTimer = setInterval(() => void cleanup(), opts.dedup.cleanupIntervalMs);
    }
    if (opts.acquire) acquireLoop = runAcquireLoop(acquireController.signal);
    publish();
    return address;
  }

  async function waitForCalls(timeoutMs: number): Promise<boolean> {
    const until = monotonicNow() + timeoutMs;
    while (calls.size > 0) {
      const remaining = until - monotonicNow();
      if (remaining <= 0) return false;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.all([...calls].map((c) => c.settled)),
        new Promise<void>((resolve) => (timer = setTimeout(resolve, remaining))),
      ]);
      clearTimeout(timer);
    }
    return true;
  }

  async function doStop(stopOptions: StopOptions): Promise<void> {
    const drain = stopOptions.drain === true;
    const timeoutMs = stopOptions.timeoutMs ?? opts.drainTimeoutMs;
    if (drain) draining = true;
    stopping = true;
    publish();
    acquireController.abort();
    if (cleanupTimer) clearInterval(cleanupTimer);
    cleanupTimer = undefined;
    for (const poll of longPolls) poll.abort();
    waiters.wakeAll();
    if (drain) await waitForCalls(timeoutMs);
    for (const call of calls) call.controller.abort(new LeaseLostError(drain ? 'drain timed out' : 'node stopped'));
    // Aborted calls answer at once; their rollbacks finish shortly (bounded, in case the database hangs).
    await waitForCalls(5_000);
    await acquireLoop?.catch(() => undefined);
    if (lease.current) {
      try {
        await lease.release();
      } catch (error) {
        events$.next({ type: 'acquire-failed', error: `release failed: ${describe(error)}` });
      }
    }
    leaseSubscription?.unsubscribe();
    stopped = true;
    publish();
    if (server.listening) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
        // Anything still open has had its answer; a kept-alive socket must not hold the process.
        setImmediate(() => {
          for (const socket of sockets) socket.destroy();
        });
      });
    }
    state$.complete();
    events$.complete();
  }

  function stop(stopOptions: StopOptions = {}): Promise<void> {
    stopPromise ??= doStop(stopOptions);
    return stopPromise;
  }

  const node: HotcoldNode = {
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
    get status() {
      return currentStatus();
    },
    state$: state$.asObservable() as Observable<NodeState>,
    events$: events$.asObservable(),
    get inFlight() {
      return calls.size;
    },
    stop,
    close: () => stop({ drain: false }),
    ddl,
  };
  return node;
}

