import { JSONRPC_INVALID_REQUEST } from '../../wire.js';
import type { Check } from './check.js';
import { expect, show } from './probe.js';

/** The caller's time, `X-Hotcold-Timeout-Ms` (docs/wire.md §10). */

export const timeoutChecks: readonly Check[] = [
  {
    id: 'timeout.spent',
    requirement: '§10 a call whose X-Hotcold-Timeout-Ms is 0 (time already spent) is answered 503 {"error":"EXPIRED"} with node headers and not executed',
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const answer = await p.rpc('conformance.counter', { name }, { key: p.fresh('key'), timeoutHeader: '0' });
      p.notExecuted(answer, 'EXPIRED', 'X-Hotcold-Timeout-Ms: 0');
      await p.expectCounter(name, before, 'after a call sent with no time left');
      return '503 EXPIRED, not executed';
    },
  },
  {
    id: 'timeout.malformed',
    requirement: '§10 a malformed X-Hotcold-Timeout-Ms ("1.5") is refused with the JSON-RPC error -32600 and not executed',
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const answer = await p.rpc('conformance.counter', { name }, { key: p.fresh('key'), timeoutHeader: '1.5' });
      const error = p.rpcError(answer, 'X-Hotcold-Timeout-Ms: 1.5');
      expect(error.code === JSONRPC_INVALID_REQUEST, `code ${error.code}, expected ${JSONRPC_INVALID_REQUEST} (${show(answer)})`);
      await p.expectCounter(name, before, 'after a malformed X-Hotcold-Timeout-Ms');
      return `HTTP ${answer.status} code ${error.code}, not executed`;
    },
  },
];

/**
 * Run last: a server that ignores the header keeps this call's transaction open for
 * `midCallSleepMs`, which would hold up the checks after it.
 */
export const midCallTimeoutChecks: readonly Check[] = [
  {
    id: 'timeout.mid-call',
    requirement: '§10 a call still running when the caller\'s time runs out is answered 503 {"error":"EXPIRED"} and rolled back (not executed)',
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const sleepMs = p.settings.midCallSleepMs;
      const answer = await p.rpc('conformance.counter', { name, sleepMs }, {
        key: p.fresh('key'),
        timeoutHeader: '300',
        waitMs: p.settings.requestTimeoutMs + sleepMs,
      });
      p.notExecuted(answer, 'EXPIRED', `a ${sleepMs} ms call with X-Hotcold-Timeout-Ms: 300`);
      await p.expectCounter(name, before, 'after a call whose time ran out while it ran');
      return '503 EXPIRED, rolled back';
    },
  },
];
