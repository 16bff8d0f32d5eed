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
import { checkStopOptions, resolveNodeOptions } from './node-options.js';
import { NodeStatusTracker } from './node-status.js';
import { Slots } from './slots.js';
import { boundsPreparer } from './transaction-bounds.js';
import type { HotcoldNode, NodeAddress, NodeOptions, StopOptions } from './types.js';
import { describeError } from './describe-error.js';
import { NodeMetrics } from './node-metrics.js';
import { startMetricsEndpoint, type MetricsEndpoint } from './metrics-endpoint.js';
import { instrumentLease } from '../lease/lease-metrics.js';
import { hotcoldMeter } from '../shared/telemetry.js';
import { Log } from '../shared/logger.js';

/**
 * Creates the reference node: a JSON-RPC 2.0 HTTP server that executes calls only while it
 * holds the lease, each in one fenced database transaction together with its idempotency record
 * and feed appends. This function only wires the parts together: call execution
 * (call-executor.ts), HTTP routing and answers (http-router.ts, node-answers.ts), the feed
 * endpoint (feed-endpoint.ts) and the lifecycle (node-lifecycle.ts).
 *
 * @param options - The lease, the handlers, the port, dedup and feed settings; see {@link NodeOptions}.
 * @param clock - Time source for deadlines and back-offs; tests inject a manual one.
 * @throws {ConfigurationError} when an option is invalid (naming the field), or the lease's machine name
 * is no header text (visible ASCII; it is sent as `X-Hotcold-Node`): field `lease.machineName`.
 * @example
 * ```ts
 * import os from 'node:os';
 * import { createLease, sqliteStore } from 'hotcold/lease';
 * import { createNode } from 'hotcold/node';
 *
 * const lease = createLease({ store: sqliteStore('/var/lib/app/app.db'), machineName: os.hostname(), mode: 'warm' });
 * const node = createNode({ lease, port: 8080, handlers: { ping: () => 'pong' } });
 * await node.start();
 * ```
 */
export function createNode(options: NodeOptions, clock: NodeClock = systemClock): HotcoldNode {
  const opts = resolveNodeOptions(options);
  const { lease } = opts;
  const store = lease.store;
  const dialect = store.dialect;
  const machine = opts.machine;
  const dedup = opts.dedup === false ? undefined : new DedupStore(dialect, opts.dedup.table);
  const feedStore = opts.feeds === false ? undefined : new FeedStore(dialect, opts.feeds.table, opts.feeds.counterTable);
  const waiters = new FeedWaiters();
  const status = new NodeStatusTracker(lease, clock, machine, new Log(opts.logger, 'node', store.secrets), store.secrets);
  const metrics = new NodeMetrics(machine, () => status.status());
  // What stop() undoes: the instruments' observable callbacks (the global provider would keep
  // observing a stopped node otherwise) and the metrics endpoint.
  const unbind: Array<() => void> = [];
  // Without an endpoint of its own the node records on the given or global provider from the
  // start; with one, on the endpoint's provider once start() has loaded the SDK.
  if (!opts.metrics) unbind.push(metrics.bind(hotcoldMeter(opts.telemetry)));
  let metricsEndpoint: MetricsEndpoint | undefined;
  // PostgreSQL: the fence takes FOR KEY SHARE, which the renewal does not wait for, so several
  // may overlap (bounded below the pool size so renewals find a connection). InnoDB's share lock
  // does hold up the renewal: keep the overlap small. SQLite serialises on its one connection.
  const slots = new Slots(opts.maxConcurrentTransactions ?? (dialect === 'postgres' ? 4 : dialect === 'mysql' ? 2 : Number.POSITIVE_INFINITY), {
    now: () => clock.now(),
    waited: (waitedMs, queued, granted) => metrics.slot(waitedMs, queued, granted),
  });

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
    idleMs: opts.idleInTransactionTimeoutMs === false ? undefined : opts.idleInTransactionTimeoutMs,
    emit: (event) => status.emit(event),
    onCommittedAppends: (names) => {
      for (const name of names) waiters.wake(name);
    },
  });
  const feedEndpoint =
    feedStore && opts.feeds !== false
      ? new FeedEndpoint({ store, feeds: feedStore, settings: opts.feeds, waiters, status, answers, clock, prepare, metrics, slots })
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
    slots,
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
    metrics,
  });
  const server = new NodeServer((req, res) => router.handle(req, res));

  let address: NodeAddress | undefined;
  let started: Promise<NodeAddress> | undefined;
  let stopPromise: Promise<void> | undefined;

  async function closeMetrics(): Promise<void> {
    for (const undo of unbind.splice(0)) undo();
    const endpoint = metricsEndpoint;
    metricsEndpoint = undefined;
    await endpoint?.close();
  }

  async function start(): Promise<NodeAddress> {
    if (status.stopping) throw new Error('node is stopped');
    await lifecycle.createTables();
    if (opts.metrics) {
      // Before the RPC listener: no call goes unrecorded.
      metricsEndpoint = await startMetricsEndpoint(opts.metrics.port, opts.metrics.host);
      const meter = hotcoldMeter({ meterProvider: metricsEndpoint.meterProvider });
      unbind.push(metrics.bind(meter), instrumentLease(lease, meter));
    }
    let bound: NodeAddress;
    try {
      bound = await server.listen(opts.port, opts.host);
    } catch (error) {
      await closeMetrics();
      throw error;
    }
    // stop() ran while we were creating tables or binding: it found nothing listening, so undo
    // the bind here rather than start a subscription and a timer nothing will end.
    if (status.stopping) {
      await server.close();
      await closeMetrics();
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
    // After the RPC listener: a scrape during the drain still answers.
    await closeMetrics();
    status.complete();
  }

  function stop(stopOptions: StopOptions = {}): Promise<void> {
    if (stopPromise === undefined) {
      try {
        checkStopOptions(stopOptions);
      } catch (error) {
        return Promise.reject(error);
      }
    }
    stopPromise ??= doStop(stopOptions);
    return stopPromise;
  }

  const node: HotcoldNode = {
    start() {
      // A failed start (port taken, database down) is not the node's start forever: the next
      // start() tries again. A successful or pending one is shared.
      started ??= start().catch((error: unknown) => {
        started = undefined;
        throw error;
      });
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
    get metricsAddress() {
      return metricsEndpoint?.address;
    },
    get status() {
      return status.status();
    },
    state$: status.state$.asObservable(),
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
