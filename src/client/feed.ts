import { Observable } from 'rxjs';
import {
  ClientClosedException,
  ConfigurationError,
  ProtocolException,
  RemoteCallException,
  RetriesExhaustedException,
} from '../errors.js';
import { sleep } from '../shared/sleep.js';
import { rejectUnknownKeys, requireNonNegativeInteger, requirePositiveInteger } from '../shared/validate.js';
import { FEED_METHOD, JSONRPC_INTERNAL_ERROR } from '../wire.js';

/**
 * `client.feed(name)`: a resumable feed as an Observable. It long-polls `hotcold.feed` from the
 * last sequence it delivered, so whatever happens between two polls — a failover, a dropped
 * connection, a retried call that may have been answered twice — the next poll asks for
 * `after = <last delivered seq>`, and the node's committed-order-equals-sequence-order rule
 * (docs/feeds.md) means nothing is skipped and nothing is delivered twice.
 */

/** What the feed needs from a client: the client-core's `call` with an abort signal. */
export interface FeedCaller {
  call(method: string, params: unknown, options?: { signal?: AbortSignal }): Promise<unknown>;
  readonly closed: boolean;
}

/** One item of a feed: its sequence number and the data the node's handler appended. */
export interface FeedItem<T = unknown> {
  /** Position in the feed, increasing in commit order (resume with `after: seq`). */
  seq: number;
  /** The item's payload, as the handler passed it to `appendFeed`. */
  data: T;
}

/** Where a feed starts and how the node answers each long-poll (`hotcold.feed`'s params). */
export interface FeedParams {
  /**
   * Deliver items with `seq > after` (0: from the start). Use the last seq you processed to resume.
   * @default 0
   */
  after?: number;
  /**
   * Most items per poll (the node may cap it lower).
   * @default 100
   */
  max?: number;
  /**
   * How long the node holds a poll open when there is nothing new, in ms. Keep it below the
   * client's per-attempt timeout, or every idle poll ends in a timeout and a retry.
   * @default 2000
   */
  waitMs?: number;
}

/** How `client.feed()` stops and how it waits after a failed poll. */
export interface FeedSubscribeOptions {
  /** Ends the feed (completes) when it aborts. */
  signal?: AbortSignal;
  /**
   * Pause after a failed poll, in ms, doubled per consecutive failure up to `maxRetryDelayMs`.
   * @default 100
   */
  retryDelayMs?: number;
  /**
   * Longest pause between failed polls, in ms.
   * @default 2000
   */
  maxRetryDelayMs?: number;
  /**
   * Error the Observable after this many consecutive failed polls.
   * @default Infinity (never give up)
   */
  maxConsecutiveFailures?: number;
}

/**
 * A refusal that asking again will not fix (bad params, unknown feed). An internal error is not
 * one: the node answers -32603 when its read of the feed table failed, which a retry may not.
 */
function isFatal(error: unknown): boolean {
  const fatalRemote = (e: unknown): boolean => e instanceof RemoteCallException && e.code !== JSONRPC_INTERNAL_ERROR;
  if (error instanceof ConfigurationError || fatalRemote(error)) return true;
  if (error instanceof RetriesExhaustedException) return fatalRemote(error.causes[error.causes.length - 1]);
  return false;
}

function isClosed(error: unknown): boolean {
  if (error instanceof ClientClosedException) return true;
  return error instanceof RetriesExhaustedException && error.causes[error.causes.length - 1] instanceof ClientClosedException;
}

function parseAnswer<T>(answer: unknown): { items: FeedItem<T>[]; last: number } {
  const bad = (): never => {
    throw new ProtocolException(`${FEED_METHOD} answered something other than {items, last}`, { method: FEED_METHOD });
  };
  if (typeof answer !== 'object' || answer === null) return bad();
  const { items, last } = answer as { items?: unknown; last?: unknown };
  if (!Array.isArray(items) || typeof last !== 'number') return bad();
  for (const item of items) {
    const seq = (item as { seq?: unknown } | null)?.seq;
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq)) return bad();
  }
  return { items: items as FeedItem<T>[], last };
}

export function createFeed<T = unknown>(
  caller: FeedCaller,
  name: string,
  params: FeedParams = {},
  options: FeedSubscribeOptions = {},
): Observable<FeedItem<T>> {
  if (typeof name !== 'string' || name.length === 0 || name.length > 200) throw new ConfigurationError('name', 'must be a feed name of 1..200 characters');
  rejectUnknownKeys('params', params, ['after', 'max', 'waitMs']);
  rejectUnknownKeys('options', options, ['signal', 'retryDelayMs', 'maxRetryDelayMs', 'maxConsecutiveFailures']);
  const start = params.after === undefined ? 0 : requireNonNegativeInteger('params.after', params.after);
  const max = params.max === undefined ? 100 : requirePositiveInteger('params.max', params.max);
  const waitMs = params.waitMs === undefined ? 2000 : requireNonNegativeInteger('params.waitMs', params.waitMs);
  const retryDelayMs = options.retryDelayMs === undefined ? 100 : requirePositiveInteger('options.retryDelayMs', options.retryDelayMs);
  const maxRetryDelayMs = options.maxRetryDelayMs === undefined ? 2000 : requirePositiveInteger('options.maxRetryDelayMs', options.maxRetryDelayMs);
  const maxFailures = options.maxConsecutiveFailures === undefined ? Number.POSITIVE_INFINITY : requirePositiveInteger('options.maxConsecutiveFailures', options.maxConsecutiveFailures);

  return new Observable<FeedItem<T>>((subscriber) => {
    const controller = new AbortController();
    const external = options.signal;
    const onExternalAbort = (): void => {
      controller.abort();
      subscriber.complete();
    };
    if (external?.aborted) {
      subscriber.complete();
      return undefined;
    }
    external?.addEventListener('abort', onExternalAbort, { once: true });
    const { signal } = controller;

    const loop = async (): Promise<void> => {
      let after = start;
      let failures = 0;
      while (!signal.aborted) {
        if (caller.closed) {
          subscriber.complete();
          return;
        }
        const askedAt = performance.now();
        let raw: unknown;
        // A fresh signal per poll: whatever listeners the caller hangs on it go away with it.
        const poll = new AbortController();
        const onAbort = (): void => poll.abort(signal.reason);
        signal.addEventListener('abort', onAbort, { once: true });
        try {
          raw = await caller.call(FEED_METHOD, { feed: name, after, max, waitMs }, { signal: poll.signal });
          failures = 0;
        } catch (error) {
          if (signal.aborted) return;
          if (caller.closed || isClosed(error)) {
            subscriber.complete();
            return;
          }
          failures += 1;
          if (isFatal(error) || failures >= maxFailures) {
            subscriber.error(error);
            return;
          }
          // A failover in progress: wait a little, then ask the (possibly new) node from `after`.
          const delay = Math.min(maxRetryDelayMs, retryDelayMs * 2 ** Math.min(failures - 1, 16));
          await sleep(delay, signal).catch(() => undefined);
          continue;
        } finally {
          signal.removeEventListener('abort', onAbort);
        }
        // Outside the retry: a malformed answer is a contract violation that asking again will
        // not fix, so it errors the Observable (through loop().catch).
        const answer = parseAnswer<T>(raw);
        for (const item of answer.items) {
          if (signal.aborted) return;
          // Defensive: a node answers only seq > after in order; never deliver anything twice.
          if (item.seq <= after) continue;
          after = item.seq;
          subscriber.next({ seq: item.seq, data: item.data });
        }
        // A draining node ends its long-polls at once with nothing: do not spin on it.
        if (answer.items.length === 0 && performance.now() - askedAt < Math.max(20, waitMs / 2)) {
          await sleep(Math.min(retryDelayMs, 100), signal).catch(() => undefined);
        }
      }
    };
    loop().catch((error: unknown) => {
      if (!signal.aborted) subscriber.error(error);
    });

    return () => {
      external?.removeEventListener('abort', onExternalAbort);
      controller.abort();
    };
  });
}
