import type { SqlExecutor } from '../lease/types.js';
import { setMaxListeners } from 'node:events';
import type { Lease, LeaseStore } from '../lease/types.js';
import type { CallExecution } from './call-executor.js';
import type { DedupStore } from './dedup-store.js';
import type { FeedEndpoint } from './feed-endpoint.js';
import { pause, type NodeClock } from './node-clock.js';
import type { NodeStatusTracker } from './node-status.js';
import type { Slots } from './slots.js';
import { ensureSchemaRetrying } from './sql-dialect.js';
import { StoreConfigurationError } from '../lease/errors.js';
import type { SchemaObject } from '../lease/schema.js';
import type { StopOptions } from './types.js';
import { describeError as describe } from './describe-error.js';


/** How long stop() waits for aborted calls' transactions to end (a frozen database must not hold it). */
const ROLLBACK_WAIT_MS = 5_000;
/** Back-off of the acquire loop after a failed acquire(). */
const ACQUIRE_RETRY_MS = 1_000;

/**
 * The node's life: its tables, the background acquire loop, the idempotency cleanup timer, the
 * calls in flight, and the ordered stop (drain, abort, release, close).
 */
export class NodeLifecycle {
  private readonly calls = new Set<CallExecution>();
  private readonly acquireController = new AbortController();
  private acquireLoop: Promise<void> | undefined;
  private cleanupTimer: { clear(): void } | undefined;
  private leaseSubscription: { unsubscribe(): void } | undefined;

  constructor(
    private readonly deps: {
      lease: Lease;
      store: LeaseStore;
      status: NodeStatusTracker;
      clock: NodeClock;
      ddl: () => string[];
      /** The node's tables and indexes, for `ensureSchema` (which skips what exists). */
      schema: () => SchemaObject[];
      dedup: { store: DedupStore; ttlMs: number; cleanupIntervalMs: number } | undefined;
      feeds: FeedEndpoint | undefined;
      acquire: boolean;
      /** The server-side bounds every node transaction sets first (transaction-bounds.ts). */
      prepare?: ((tx: SqlExecutor) => Promise<void>) | undefined;
      /** The node's transaction slots: the cleanup takes one like a call, never a pool connection past them. */
      slots: Slots;
    },
  ) {}

  get inFlight(): number {
    return this.calls.size;
  }

  /** Keeps `execution` counted until its transaction has ended. */
  track(execution: CallExecution): void {
    this.calls.add(execution);
    void execution.settled.finally(() => this.calls.delete(execution));
  }

  async createTables(): Promise<void> {
    // Catalog first, DDL only for what is missing, every lock wait bounded: a node starting must
    // not queue DDL behind the active node's open transactions (see src/lease/schema.ts).
    const objects = this.deps.schema();
    await ensureSchemaRetrying(this.deps.store, objects, `hotcold-node:${objects.map((o) => o.name).join(',')}`, (error) =>
      this.deps.status.emit({ type: 'handler-error', method: '(create tables)', error: `retrying: ${describe(error)}` }),
    );
  }

  /** After the server listens: follow the lease, clean up, acquire. */
  begin(): void {
    const { lease, status } = this.deps;
    this.leaseSubscription = lease.state$.subscribe((s) => {
      if (s.status === 'active' && typeof s.token === 'number') {
        status.servedToken = s.token;
        // Every in-flight call and waiting feed poll listens on the tenure's signal: not a leak.
        const current = lease.current;
        if (current) setMaxListeners(0, current.signal);
      }
      status.publish();
    });
    if (this.deps.dedup) this.armCleanup(this.deps.dedup.cleanupIntervalMs);
    if (this.deps.acquire) this.acquireLoop = this.runAcquireLoop(this.acquireController.signal);
    status.publish();
  }

  private armCleanup(intervalMs: number): void {
    this.cleanupTimer = this.deps.clock.setTimer(() => {
      void this.cleanup().finally(() => {
        if (!this.deps.status.stopping) this.armCleanup(intervalMs);
      });
    }, intervalMs);
  }

  private async cleanup(): Promise<void> {
    const { status, lease, store } = this.deps;
    const held = status.activeLease();
    const dedup = this.deps.dedup;
    if (!held || !dedup) return;
    try {
      const deleted = await this.deps.slots.run(
        held.signal,
        () =>
          store.transaction(async (tx) => {
            if (this.deps.prepare) await this.deps.prepare(tx);
            await lease.assertHeld(tx, held.token);
            return dedup.store.cleanup(tx, dedup.ttlMs);
          }, { signal: held.signal }),
        'cleanup',
      );
      if (deleted > 0) status.emit({ type: 'cleanup', deleted });
    } catch (error) {
      status.emit({ type: 'cleanup-failed', error: describe(error) });
    }
  }

  private async runAcquireLoop(signal: AbortSignal): Promise<void> {
    const { lease, status, clock } = this.deps;
    while (!signal.aborted) {
      try {
        const held = await lease.acquire({ signal });
        status.servedToken = held.token;
        status.publish();
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
        status.publish();
        // Cold mode: a lost lease stays lost until an operator promotes this node again.
        if (lease.options.mode === 'cold') return;
      } catch (error) {
        if (signal.aborted) return;
        // Misconfiguration (driver, login, database, table, privileges): retrying cannot cure it.
        if (error instanceof StoreConfigurationError) {
          status.emit({ type: 'acquire-failed', error: describe(error), permanent: true });
          return;
        }
        status.emit({ type: 'acquire-failed', error: describe(error) });
        await pause(clock, ACQUIRE_RETRY_MS, signal);
      }
    }
  }

  /** Resolves true when every tracked call's transaction ended within `timeoutMs`. */
  private async waitForCalls(timeoutMs: number): Promise<boolean> {
    const { clock } = this.deps;
    const until = clock.now() + timeoutMs;
    while (this.calls.size > 0) {
      const remaining = until - clock.now();
      if (remaining <= 0) return false;
      let timer: { clear(): void } | undefined;
      await Promise.race([
        Promise.all([...this.calls].map((c) => c.settled)),
        new Promise<void>((resolve) => (timer = clock.setTimer(resolve, remaining))),
      ]);
      timer?.clear();
    }
    return true;
  }

  /**
   * Stops serving: health turns draining (with `drain`) or lost, new calls are refused, long-polls
   * end, in-flight calls finish (with `drain`, up to `timeoutMs`) or are ended as not executed, the
   * lease is released. The caller closes the server afterwards.
   */
  async stop(options: StopOptions, defaultDrainMs: number): Promise<void> {
    const { status, lease } = this.deps;
    const drain = options.drain === true;
    const timeoutMs = options.timeoutMs ?? defaultDrainMs;
    if (drain) status.draining = true;
    status.stopping = true;
    status.publish();
    this.acquireController.abort();
    this.cleanupTimer?.clear();
    this.cleanupTimer = undefined;
    this.deps.feeds?.endAll();
    if (drain) await this.waitForCalls(timeoutMs);
    for (const call of this.calls) call.stop(drain ? 'drain timed out' : 'node stopped');
    // Stopped calls are answered at once; their rollbacks finish shortly (bounded, in case the database hangs).
    await this.waitForCalls(ROLLBACK_WAIT_MS);
    await this.acquireLoop?.catch(() => undefined);
    if (lease.current) {
      try {
        await lease.release();
      } catch (error) {
        status.emit({ type: 'acquire-failed', error: `release failed: ${describe(error)}` });
      }
    }
    this.leaseSubscription?.unsubscribe();
  }
}
