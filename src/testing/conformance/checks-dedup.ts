import { HOTCOLD_KEY_CONFLICT } from '../../wire.js';
import type { Check } from './check.js';
import type { ProbeSettings } from './probe.js';
import { brief, expect, show } from './probe.js';

/** Deduplication by Idempotency-Key (docs/wire.md §8). */

const skipWithoutDedup = (s: ProbeSettings): string | undefined => (s.dedup ? undefined : 'dedup: false (the server does not claim to deduplicate)');

export const dedupChecks: readonly Check[] = [
  {
    id: 'dedup.repeat',
    requirement: '§8 the same Idempotency-Key sent twice executes once; the second answer is the first one\'s result',
    skip: skipWithoutDedup,
    async run(p) {
      const name = p.fresh('counter');
      const key = p.fresh('key');
      const before = await p.readCounter(name);
      const first = p.result(await p.rpc('conformance.counter', { name }, { key, attempt: 1 }), 1, 'first call');
      const second = p.result(await p.rpc('conformance.counter', { name }, { key, attempt: 2, id: 2 }), 2, 'the repeat');
      await p.expectCounter(name, before + 1, 'after the same key twice');
      expect(p.sameResult(first, second), `the repeat answered ${brief(second)}, the first call ${brief(first)}`);
      return `one execution, both answered ${brief(first)}`;
    },
  },
  {
    id: 'dedup.concurrent',
    requirement: '§8 a repeat that arrives while the first call with its key still runs waits for it: one execution, the same answer',
    skip: skipWithoutDedup,
    async run(p) {
      const name = p.fresh('counter');
      const key = p.fresh('key');
      const before = await p.readCounter(name);
      const params = { name, sleepMs: 300 };
      const [a, b] = await Promise.all([
        p.rpc('conformance.counter', params, { key, attempt: 1 }),
        p.rpc('conformance.counter', params, { key, attempt: 2 }),
      ]);
      const ra = p.result(a, 1, 'one of two concurrent calls');
      const rb = p.result(b, 1, 'one of two concurrent calls');
      await p.expectCounter(name, before + 1, 'after two concurrent calls with one key');
      expect(p.sameResult(ra, rb), `the two answers differ: ${brief(ra)} and ${brief(rb)}`);
      return `one execution, both answered ${brief(ra)}`;
    },
  },
  {
    id: 'dedup.params-conflict',
    requirement: `§8 a key reused with other params is refused with the JSON-RPC error ${HOTCOLD_KEY_CONFLICT} and not executed`,
    skip: skipWithoutDedup,
    async run(p) {
      const name = p.fresh('counter');
      const key = p.fresh('key');
      p.result(await p.rpc('conformance.counter', { name, add: 1 }, { key }), 1, 'first call');
      const before = await p.readCounter(name);
      const answer = await p.rpc('conformance.counter', { name, add: 2 }, { key });
      const error = p.rpcError(answer, 'the key with other params');
      expect(error.code === HOTCOLD_KEY_CONFLICT, `code ${error.code}, expected ${HOTCOLD_KEY_CONFLICT}`);
      p.nodeHeaders(answer, 'key conflict');
      await p.expectCounter(name, before, 'after the key with other params');
      return `HTTP ${answer.status} code ${error.code}, not executed`;
    },
  },
  {
    id: 'dedup.caller-bound',
    requirement: `§8 a key is bound to its caller: another caller's same key and params is refused with ${HOTCOLD_KEY_CONFLICT}, neither executed nor answered with the first caller's result`,
    skip: skipWithoutDedup,
    async run(p) {
      const name = p.fresh('counter');
      const key = p.fresh('key');
      const [callerA, callerB] = p.settings.callers;
      const first = await p.rpc('conformance.counter', { name }, { key, headers: callerA });
      p.result(first, 1, 'caller A');
      const before = await p.readCounter(name);
      const answer = await p.rpc('conformance.counter', { name }, { key, headers: callerB });
      expect(answer.status !== 200 || (answer.json as { result?: unknown } | undefined)?.result === undefined, `caller B got caller A's result: ${show(answer)}`);
      const error = p.rpcError(answer, "caller B with caller A's key");
      expect(error.code === HOTCOLD_KEY_CONFLICT, `code ${error.code}, expected ${HOTCOLD_KEY_CONFLICT}`);
      await p.expectCounter(name, before, "after caller B used caller A's key");
      return `HTTP ${answer.status} code ${error.code}, not executed`;
    },
  },
];
