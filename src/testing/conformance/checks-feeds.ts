import { FEED_METHOD, JSONRPC_INVALID_PARAMS } from '../../wire.js';
import { sleep } from '../../shared/sleep.js';
import type { Check } from './check.js';
import type { Probe, ProbeSettings } from './probe.js';
import { brief, expect } from './probe.js';

/** Resumable feeds, `hotcold.feed` (docs/wire.md §9). */

const skipWithoutFeeds = (s: ProbeSettings): string | undefined => (s.feeds ? undefined : 'feeds: false (the server does not serve hotcold.feed)');

interface FeedAnswer {
  items: { seq: number; data: unknown }[];
  last: number;
}

/** The `{items, last}` result of a `hotcold.feed` answer, or a failed check. */
function feedResult(p: Probe, result: unknown, what: string): FeedAnswer {
  const r = result as { items?: unknown; last?: unknown } | null;
  expect(typeof r === 'object' && r !== null && Array.isArray(r.items) && typeof r.last === 'number', `${what}: expected {items, last}, got ${brief(result)}`);
  for (const item of r.items as unknown[]) {
    const seq = (item as { seq?: unknown } | null)?.seq;
    expect(typeof seq === 'number' && Number.isSafeInteger(seq), `${what}: item ${brief(item)} has no integer seq`);
  }
  return r as FeedAnswer;
}

async function append(p: Probe, feed: string, data: unknown): Promise<number> {
  const result = p.result(await p.rpc('conformance.append', { feed, data }, { key: p.fresh('append') }), 1, 'conformance.append') as { seq?: unknown } | null;
  expect(typeof result?.seq === 'number' && Number.isSafeInteger(result.seq), `conformance.append answered ${brief(result)}, not {seq}`);
  return result.seq;
}

async function read(p: Probe, params: Record<string, unknown>, what: string, waitMs?: number): Promise<FeedAnswer> {
  const answer = await p.rpc(FEED_METHOD, params, { key: p.fresh('poll'), waitMs });
  return feedResult(p, p.result(answer, 1, what), what);
}

/** The feed the checks share: three items appended by `feed.read`. */
interface Shared {
  feed: string;
  seqs: number[];
}
async function sharedFeed(p: Probe): Promise<Shared> {
  const known = p.memo.get('feed') as Shared | undefined;
  if (known) return known;
  const feed = p.fresh('feed');
  const seqs: number[] = [];
  for (let i = 1; i <= 3; i += 1) seqs.push(await append(p, feed, { i }));
  const value = { feed, seqs };
  p.memo.set('feed', value);
  return value;
}

export const feedChecks: readonly Check[] = [
  {
    id: 'feed.read',
    requirement: `§9 ${FEED_METHOD} {feed, after: 0} answers the committed items in sequence order {items:[{seq,data}…], last}; seq rises with each append`,
    skip: skipWithoutFeeds,
    async run(p) {
      const { feed, seqs } = await sharedFeed(p);
      expect(seqs[0]! < seqs[1]! && seqs[1]! < seqs[2]!, `appends returned seqs ${brief(seqs)}, expected rising`);
      const got = await read(p, { feed, after: 0, max: 10, waitMs: 0 }, `${FEED_METHOD} after 0`);
      const expected = seqs.map((seq, i) => ({ seq, data: { i: i + 1 } }));
      expect(p.sameResult(got.items, expected), `items ${brief(got.items)}, expected ${brief(expected)}`);
      expect(got.last === seqs[2], `last ${got.last}, expected ${seqs[2]}`);
      return `seqs ${seqs.join(', ')}`;
    },
  },
  {
    id: 'feed.resume',
    requirement: `§9 ${FEED_METHOD} resumes after any seq: only items with seq > after, at most max, last = the last item's seq (or after when none)`,
    skip: skipWithoutFeeds,
    async run(p) {
      const { feed, seqs } = await sharedFeed(p);
      const [s1, s2, s3] = seqs as [number, number, number];
      const middle = await read(p, { feed, after: s1, max: 1, waitMs: 0 }, `${FEED_METHOD} after ${s1}, max 1`);
      expect(middle.items.length === 1 && middle.items[0]?.seq === s2, `after ${s1} max 1 answered ${brief(middle.items)}, expected only seq ${s2}`);
      expect(middle.last === s2, `last ${middle.last}, expected ${s2}`);
      const end = await read(p, { feed, after: s3, waitMs: 0 }, `${FEED_METHOD} after ${s3}`);
      expect(end.items.length === 0, `after the last seq ${s3} answered ${brief(end.items)}, expected no items`);
      expect(end.last === s3, `last ${end.last} with no items, expected after (${s3})`);
      return 'resumed without gap or repeat';
    },
  },
  {
    id: 'feed.long-poll',
    requirement: `§9 ${FEED_METHOD} with waitMs holds the request open while there is nothing new, and answers as soon as an item is committed`,
    skip: skipWithoutFeeds,
    async run(p) {
      const { feed, seqs } = await sharedFeed(p);
      const after = seqs[2]!;
      const waitMs = Math.max(2000, p.settings.requestTimeoutMs - 1000);
      let answered = false;
      const poll = read(p, { feed, after, waitMs }, `${FEED_METHOD} long-poll`, p.settings.requestTimeoutMs + waitMs).finally(() => {
        answered = true;
      });
      poll.catch(() => undefined);
      // Give the poll time to reach the server and start waiting; a server that does not hold it
      // open has answered (with nothing) by then.
      await sleep(300, p.settings.signal);
      if (answered) {
        const early = await poll;
        expect(early.items.length > 0, `the long-poll (waitMs ${waitMs}) answered at once with no items, before anything was appended`);
      }
      const seq = await append(p, feed, { i: 4 });
      const got = await poll;
      expect(got.items.length === 1 && got.items[0]?.seq === seq, `the long-poll answered ${brief(got.items)}, expected the new item seq ${seq}`);
      p.memo.set('feed-last', seq);
      return `woke with seq ${seq}`;
    },
  },
  {
    id: 'feed.expired',
    requirement: `§10 a ${FEED_METHOD} long-poll ends by the caller's deadline: 503 {"error":"EXPIRED"} when nothing came by then`,
    skip: skipWithoutFeeds,
    async run(p) {
      const { feed, seqs } = await sharedFeed(p);
      const after = (p.memo.get('feed-last') as number | undefined) ?? seqs[2]!;
      const answer = await p.rpc(FEED_METHOD, { feed, after, waitMs: 3000 }, { key: p.fresh('poll'), timeoutHeader: '300' });
      p.notExecuted(answer, 'EXPIRED', `a ${FEED_METHOD} long-poll (waitMs 3000) with X-Hotcold-Timeout-Ms: 300`);
      return '503 EXPIRED';
    },
  },
  {
    id: 'feed.invalid-params',
    requirement: `§9 ${FEED_METHOD} with invalid params (after: -1) answers the JSON-RPC error -32602`,
    skip: skipWithoutFeeds,
    async run(p) {
      const answer = await p.rpc(FEED_METHOD, { feed: p.fresh('feed'), after: -1 }, { key: p.fresh('poll') });
      const error = p.rpcError(answer, `${FEED_METHOD} after -1`);
      expect(error.code === JSONRPC_INVALID_PARAMS, `code ${error.code}, expected ${JSONRPC_INVALID_PARAMS}`);
      return `HTTP ${answer.status} code ${error.code}`;
    },
  },
];
