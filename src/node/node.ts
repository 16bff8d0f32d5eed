import type { Observable } from 'rxjs';
import type { SqlExecutor } from '../lease/types.js';
import { CallExecutor } from './call-executor.js';
import { DedupStore, dedupDdl, dedupSchema } from './dedup-store.js';
import { FeedEndpoint } from './feed-endpoint.js';
import { FeedStore, feedDdl, feedSchema } from './feed-store.js';
import { FeedWaiters } from './feed-waiters.js';
import { HttpRouter } from './http-router.js';
import { NodeServer } from './http-server.js';
import { defaultIdentify } from './identify.js';
import { NodeAnswers } from './node-answers.js';
import { systemClock, type NodeClock } from './node-clock.js';
import { NodeLifecycle } from './node-lifecycle.js';
import { resolveNodeOptions } from './node-options.js';
import { NodeStatusTracker } from './node-status.js';
import { Slots } from './slots.js';
import { boundsPreparer } from './transaction-bounds.js';
import type { HotcoldNode, NodeAddress, NodeOptions, NodeState, StopOptions } from './types.js';
import { describeError } from './describe-error.js';
import { Log } from '../shared/logger.js';

/**
 * Creates the reference node: a JSON-RPC 2.0 HTTP server that executes calls only while it
 * holds the lease, each in one fenced database transaction together with its idempotency record
 * and feed appends. This function only wires the parts together: call execution
 * (call-executor.ts), HTTP routing and answers (http-router.ts, node-answers.ts), the feed
 * endpoint (feed-endpoint.ts) and the lifecycle (node-lifecycle.ts).
 *
 * @param options see {@link NodeOptions}
 * @param clock time source for deadlines and back-offs; tests inject a manual one
 * @throws ConfigurationError when an option is invalid (naming the field)
 * @example
 * const node = createNode({ lease, port: 8080, handlers: { ping: () => 'pong' } });
 * await node.start();
 */
export function createNode(options: NodeOptions, clock: NodeClock = systemClock): HotcoldNode {
  const opts = resolveNodeOptions(options);
  const { lease } = opts;
  const store = lease.store;
  const dialect = store.dialect;
  const machine = lease.options?.machineName ?? lease.holderId.split('#')[0] ?? 'node';
  const dedup = opts.dedup === false ? undefined : new DedupStore(dialect, opts.dedup.table);
  const feedStore = opts.feeds === false ? undefined : new FeedStore(dialect, opts.feeds.table, opts.feeds.counterTable);
  const waiters = new FeedWaiters();
  // PostgreSQL: the fence takes FOR KEY SHARE, which the renewal does not wait for, so several
  // may overlap (bounded below the pool size so renewals find a connection). InnoDB's share lock
  // does hold up the renewal: keep the overlap small. SQLite serialises on its one connection.
  const slots = new Slots(opts.maxConcurrentTransactions ?? (dialect === 'postgres' ? 4 : dialect === 'mysql' ? 2 : Number.POSITIVE_INFINITY));

  const status = new NodeStatusTracker(lease, clock, machine, new Log(opts.logger, 'node', store.secrets));
  const answers = new NodeAnswers(machine, dedup !== undefined, opts.retryAfterSeconds, status);

  // Server-side bounds on every node transaction (docs/node.md "Bounds"): a killed or frozen
  // node's session must not keep the lease row's share lock past them.
  const prepare = boundsPreparer(dialect, { statementMs: opts.statementTimeoutMs, idleMs: opts.idleInTransactionTimeoutMs }, (sql, error) =>
    status.emit({ type: 'handler-error', method: '(transaction bounds)', error: `not supported, skipped: ${sql}: ${describeError(error)}` }),
  );

  const executor = new CallExecutor({
    lease,
    dedup,
    feeds: feedStore,
    slots,
    clock,
    prepare,
    emit: (event) => status.emit(event),
    onCommittedAppends: (names) => {
      for (const name of names) waiters.wake(name);
    },
  });
  const feedEndpoint =
    feedStore && opts.feeds !== false
      ? new FeedEndpoint({ store, feeds: feedStore, settings: opts.feeds, waiters, status, answers, clock, prepare })
      : undefined;

  function ddl(): string[] {
    const statements: string[] = [];
    if (opts.dedup !== false) statements.push(...dedupDdl(dialect, opts.dedup.table));
    if (opts.feeds !== false) statements.push(...feedDdl(dialect, opts.feeds.table, opts.feeds.counterTable));
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
    feeds: feedEndpoint,
    acquire: opts.acquire,
    prepare,
  });
  const router = new HttpRouter({
    opts,
    status,
    answers,
    executor,
    feeds: feedEndpoint,
    identify: opts.identify ?? defaultIdentify,
    clock,
    track: (execution) => lifecycle.track(execution),
  });
  const server = new NodeServer((req, res) => router.handle(req, res));

  let address: NodeAddress | undefined;
  let started: Promise<NodeAddress> | undefined;
  let stopPromise: Promise<void> | undefined;

  async function start(): Promise<NodeAddress> {
    if (status.stopping) throw new Error('node is stopped');
    await lifecycle.createTables();
    const bound = await server.listen(opts.port, opts.host);
    // stop() ran while we were creating tables or binding: it found nothing listening, so undo
    // the bind here rather than start a subscription and a timer nothing will end.
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
    status.stopped = true;
    status.publish();
    await server.close();
    status.complete();
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
      return status.status();
    },
    state$: status.state$.asObservable() as Observable<NodeState>,
    events$: status.events$.asObservable(),
    get inFlight() {
      return lifecycle.inFlight;
    },
    stop,
    close: () => stop({ drain: false }),
    ddl,
  };
  return node;
}
