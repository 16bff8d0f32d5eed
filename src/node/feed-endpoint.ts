import type { ServerResponse } from 'node:http';
import type { LeaseStore, SqlExecutor } from '../lease/types.js';
import { FEED_METHOD, JSONRPC_INVALID_PARAMS, type JsonRpcId } from '../wire.js';
import type { FeedStore } from './feed-store.js';
import type { FeedWaiters } from './feed-waiters.js';
import { errorResponse, resultResponse } from './json-rpc.js';
import { watchLease } from './lease-watch.js';
import type { NodeAnswers } from './node-answers.js';
import type { NodeClock } from './node-clock.js';
import type { ResolvedNodeOptions } from './node-options.js';
import type { NodeStatusTracker } from './node-status.js';
import { raceAbort } from '../shared/race-abort.js';
import { describeError } from './describe-error.js';
import type { FeedPollOutcome, NodeMetrics } from './node-metrics.js';
import type { Slots } from './slots.js';

type FeedSettings = Exclude<ResolvedNodeOptions['feeds'], false>;

interface FeedParams {
  feed: string;
  after: number;
  max: number;
  waitMs: number;
}

/** Why a long-poll ended early. */
type PollStop = 'lease-lost' | 'expired' | 'stopped' | 'closed';

function feedParams(params: unknown, settings: FeedSettings): FeedParams | string {
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return 'params must be an object {feed, after, max?, waitMs?}';
  const p = params as Record<string, unknown>;
  if (typeof p.feed !== 'string' || p.feed.length === 0 || p.feed.length > 200) return 'feed must be a string of 1..200 characters';
  const after = p.after === undefined ? 0 : p.after;
  if (typeof after !== 'number' || !Number.isSafeInteger(after) || after < 0) return 'after must be an integer >= 0';
  const max = p.max === undefined ? settings.maxItems : p.max;
  if (typeof max !== 'number' || !Number.isSafeInteger(max) || max <= 0) return 'max must be a positive integer';
  const waitMs = p.waitMs === undefined ? 0 : p.waitMs;
  if (typeof waitMs !== 'number' || !Number.isFinite(waitMs) || waitMs < 0) return 'waitMs must be a number >= 0';
  return { feed: p.feed, after, max: Math.min(max, settings.maxItems), waitMs: Math.min(waitMs, settings.maxWaitMs) };
}


/**
 * `hotcold.feed`: a long-poll read. Read-only, so it needs no fencing, only the active check; but
 * it tells the truth at once like a call: when the lease is lost, the caller's time is spent or
 * the database fails, it answers `503 NOT_EXECUTED`/`EXPIRED` without waiting for a read that a
 * frozen database may never finish.
 */
export class FeedEndpoint {
  private readonly polls = new Set<AbortController>();

  constructor(
    private readonly deps: {
      store: LeaseStore;
      feeds: FeedStore;
      settings: FeedSettings;
      waiters: FeedWaiters;
      status: NodeStatusTracker;
      answers: NodeAnswers;
      clock: NodeClock;
      /** The server-side bounds every node transaction sets first (transaction-bounds.ts). */
      prepare?: ((tx: SqlExecutor, capMs?: number) => Promise<void>) | undefined;
      metrics: NodeMetrics;
      /**
       * The node's transaction slots: each read takes one as a `feed` use, so long-polls hold at
       * most half of them and never the pool connections the lease's renewal needs.
       */
      slots: Slots;
    },
  ) {}

  /** Ends every open long-poll at once (with what it has: nothing); used by stop and drain. */
  endAll(): void {
    for (const poll of this.polls) poll.abort('stopped' satisfies PollStop);
    this.deps.waiters.wakeAll();
  }

  /** Serves one long-poll; resolves to how it ended (never rejects for a failed read: that is answered). */
  async serve(res: ServerResponse, id: JsonRpcId | null, params: unknown, deadline: number | undefined): Promise<FeedPollOutcome> {
    const { store, feeds, settings, waiters, status, answers, clock, prepare, slots } = this.deps;
    const p = feedParams(params, settings);
    if (typeof p === 'string') {
      answers.rpc(res, undefined, errorResponse(id, { code: JSONRPC_INVALID_PARAMS, message: p }), false);
      return 'invalid_request';
    }
    const held = status.activeLease();
    if (!held) {
      answers.notActive(res, 'this node does not hold the lease', status.servedToken);
      return 'NOT_ACTIVE';
    }
    const ended = this.deps.metrics.pollStarted();
    let outcome: FeedPollOutcome = 'closed';
    const controller = new AbortController();
    const stop = (why: PollStop): void => {
      if (!controller.signal.aborted) controller.abort(why);
    };
    const onClose = (): void => stop('closed');
    res.once('close', onClose);
    this.polls.add(controller);
    const unwatch = watchLease(held, clock, () => stop('lease-lost'));
    const callerLeft = deadline === undefined ? Infinity : deadline - clock.now();
    const expiry = clock.setTimer(() => stop('expired'), callerLeft);
    if (callerLeft <= 0) stop('expired');
    const waitUntil = clock.now() + p.waitMs;
    const token = held.token;
    try {
      for (;;) {
        if (controller.signal.aborted) throw controller.signal.reason;
        // Given up on (lease lost, caller out of time): the store discards the connection at once.
        // Each read holds a transaction slot (a feed one) only while it runs, not while it waits.
        const items = await raceAbort(
          slots.run(
            controller.signal,
            () =>
              store.transaction(
                async (tx) => {
                  if (prepare) await prepare(tx, deadline === undefined ? undefined : deadline - clock.now());
                  return feeds.read(tx, p.feed, p.after, p.max);
                },
                { signal: controller.signal },
              ),
            'feed',
          ),
          controller.signal,
        );
        if (controller.signal.aborted) throw controller.signal.reason;
        const remaining = waitUntil - clock.now();
        if (items.length > 0 || remaining <= 0) {
          const last = items.length > 0 ? (items[items.length - 1]?.seq ?? p.after) : p.after;
          answers.rpc(res, token, resultResponse(id, { items, last }), false);
          outcome = 'ok';
          return outcome;
        }
        await waiters.wait(p.feed, Math.min(settings.pollIntervalMs, remaining), controller.signal);
      }
    } catch (error) {
      const why = controller.signal.aborted ? (controller.signal.reason as PollStop) : undefined;
      if (why === 'closed') return outcome;
      if (why === 'stopped') {
        // Draining or stopping: the long-poll ends with what there is (nothing), so the client
        // asks again and is routed to the node that holds the lease next.
        answers.rpc(res, token, resultResponse(id, { items: [], last: p.after }), false);
        outcome = 'ok';
      } else if (why === 'expired') {
        answers.notExecuted(res, token, 'EXPIRED', "the caller's time was spent before the feed could be read");
        outcome = 'EXPIRED';
      } else {
        outcome = 'NOT_EXECUTED';
        // Lease lost, or the read failed (database, connection): a read that did not happen.
        if (why === undefined) status.emit({ type: 'handler-error', method: FEED_METHOD, error: describeError(error) });
        answers.notExecuted(res, token, 'NOT_EXECUTED', why === 'lease-lost' ? 'the lease was lost while the feed was read' : 'the feed could not be read');
      }
      return outcome;
    } finally {
      ended(outcome);
      expiry.clear();
      unwatch();
      res.off('close', onClose);
      this.polls.delete(controller);
    }
  }
}
