import { FEED_METHOD } from '../../wire.js';
import { parseRetryAfter } from '../../transport/retry-after.js';
import type { Check } from './check.js';
import type { ProbeSettings } from './probe.js';
import { brief, expect, show } from './probe.js';
import { header } from './exchange.js';

/** A node that does not hold the lease (docs/wire.md §4.3, §7). */

const NOT_ACTIVE_STATUSES: ReadonlySet<unknown> = new Set(['standby', 'draining', 'lost']);

const skipWithoutStandby = (s: ProbeSettings): string | undefined => (s.standbyUrl === undefined ? 'no standby URL given (standbyUrl / --standby)' : undefined);

export const standbyChecks: readonly Check[] = [
  {
    id: 'standby.health',
    requirement: '§7 GET <healthPath> of a node that does not hold the lease answers 503 {"status":"standby"|"draining"|"lost"} with node headers',
    skip: skipWithoutStandby,
    async run(p) {
      const answer = await p.health(p.settings.standbyUrl!);
      const body = answer.json as { status?: unknown } | undefined;
      expect(answer.status === 503, `expected HTTP 503, got ${show(answer)}`);
      expect(typeof body === 'object' && body !== null && NOT_ACTIVE_STATUSES.has(body.status), `status ${brief(body?.status)}, expected standby, draining or lost`);
      const identity = p.nodeHeaders(answer, 'standby health');
      return `503 ${brief(body.status)} from ${identity.node}`;
    },
  },
  {
    id: 'standby.not-active',
    requirement: '§4.3 a call to a node that does not hold the lease is answered 503 {"error":"NOT_ACTIVE"} with node headers and Retry-After, and not executed',
    skip: skipWithoutStandby,
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const answer = await p.rpc('conformance.counter', { name }, { base: p.settings.standbyUrl, key: p.fresh('key') });
      p.notExecuted(answer, 'NOT_ACTIVE', 'a call to the standby');
      const retryAfter = header(answer, 'retry-after');
      expect(parseRetryAfter(retryAfter) !== undefined, `Retry-After ${brief(retryAfter)} is missing or not delay-seconds / an HTTP-date`);
      await p.expectCounter(name, before, 'after a call to the standby');
      return `503 NOT_ACTIVE, Retry-After ${retryAfter ?? ''}, not executed`;
    },
  },
  {
    id: 'standby.feed',
    requirement: `§4.3 §9 ${FEED_METHOD} on a node that does not hold the lease is answered 503 {"error":"NOT_ACTIVE"}`,
    skip: (s) => skipWithoutStandby(s) ?? (s.feeds ? undefined : 'feeds: false'),
    async run(p) {
      const answer = await p.rpc(FEED_METHOD, { feed: p.fresh('feed'), after: 0, waitMs: 0 }, { base: p.settings.standbyUrl, key: p.fresh('poll') });
      p.notExecuted(answer, 'NOT_ACTIVE', `${FEED_METHOD} on the standby`);
      return '503 NOT_ACTIVE';
    },
  },
];
