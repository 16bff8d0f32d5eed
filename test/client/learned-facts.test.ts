/**
 * The two stores of learned facts, as pure logic (an injected clock; no I/O): dedup statements
 * scoped to backend + node + term, and per-backend "not before" times from 429 Retry-After.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DedupFacts } from '../../src/connection/dedup-facts.js';
import { BackendPacing } from '../../src/connection/pacing.js';

describe('DedupFacts', () => {
  it('holds only for the backend, node and term that stated it', () => {
    const facts = new DedupFacts();
    facts.record('http://lb', 'node-a', 1, true);
    expect(facts.holds('http://lb', 'node-a', 1)).toBe(true);
    expect(facts.holds('http://lb', 'node-b', 1)).toBe(false); // another node
    expect(facts.holds('http://lb', 'node-a', 2)).toBe(false); // another term
    expect(facts.holds('http://other', 'node-a', 1)).toBe(false); // another backend
  });

  it('an answer without the header revokes it; a deposed node neither grants nor revokes', () => {
    const facts = new DedupFacts();
    facts.record('b', 'node-b', 2, true);
    facts.record('b', 'node-a', 1, false); // late answer from the deposed term
    expect(facts.holds('b', 'node-b', 2)).toBe(true);
    facts.record('b', 'node-a', 1, true);
    expect(facts.holds('b', 'node-b', 2)).toBe(true);
    facts.record('b', 'node-b', 2, false);
    expect(facts.holds('b', 'node-b', 2)).toBe(false);
  });

  it('a backend is unknown until an answer from it says either way, per backend; a failover does not make it unknown again', () => {
    const facts = new DedupFacts();
    expect(facts.isUnknown('x')).toBe(true);
    facts.record('x', 'node-a', 1, false);
    expect(facts.isUnknown('x')).toBe(false);
    expect(facts.wasAdvertised('x')).toBe(false);
    expect(facts.isUnknown('y')).toBe(true); // another backend (a pool) still unknown
    facts.record('y', 'node-a', 1, true);
    facts.record('z', 'node-a', 1, false);
    facts.record('y', 'node-a', 1, false); // a revocation: y has spoken both ways
    expect([facts.isUnknown('y'), facts.isUnknown('z'), facts.wasAdvertised('y')]).toEqual([false, false, true]);
    facts.forget('y');
    expect(facts.isUnknown('y')).toBe(false);
  });

  it('forget() (a failover) drops the statement', () => {
    const facts = new DedupFacts();
    facts.record('b', 'node-a', 1, true);
    facts.forget('b');
    expect(facts.holds('b', 'node-a', 1)).toBe(false);
  });

  it('for every sequence of statements, holds(x) implies the last statement from x (not deposed) advertised dedup', () => {
    const statement = fc.record({ node: fc.constantFrom('a', 'b'), epoch: fc.integer({ min: 1, max: 4 }), dedup: fc.boolean() });
    fc.assert(
      fc.property(fc.array(statement, { maxLength: 30 }), fc.constantFrom('a', 'b'), fc.integer({ min: 1, max: 4 }), (seq, node, epoch) => {
        const facts = new DedupFacts();
        for (const s of seq) facts.record('lb', s.node, s.epoch, s.dedup);
        if (!facts.holds('lb', node, epoch)) return;
        const last = [...seq].reverse().find((s) => s.node === node && s.epoch === epoch);
        expect(last?.dedup).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });
});

describe('BackendPacing', () => {
  it('a 429 sets a per-backend not-before, capped; only a later one moves it', () => {
    let now = 1000;
    const pacing = new BackendPacing(() => now);
    expect(pacing.idle).toBe(true);
    pacing.defer('a', 1000, 10_000);
    expect(pacing.delayFor('a')).toBe(1000);
    expect(pacing.delayFor('b')).toBe(0);
    pacing.defer('a', 200, 10_000); // earlier: ignored
    expect(pacing.delayFor('a')).toBe(1000);
    pacing.defer('a', 3_600_000, 5000); // capped by maxRetryAfterMs
    expect(pacing.delayFor('a')).toBe(5000);
    now += 5000;
    expect(pacing.delayFor('a')).toBe(0);
    expect(pacing.idle).toBe(true); // expired entries are dropped
  });

  it('ignores zero, negative, NaN delays and a zero cap; forget() clears a backend', () => {
    const pacing = new BackendPacing(() => 0);
    for (const bad of [0, -1, Number.NaN]) pacing.defer('a', bad, 1000);
    pacing.defer('a', 1000, 0);
    expect(pacing.idle).toBe(true);
    pacing.defer('a', 1000, 1000);
    pacing.forget('a');
    expect(pacing.delayFor('a')).toBe(0);
  });

  it('wait() rejects with the signal reason when aborted (the timer is cleared)', async () => {
    const pacing = new BackendPacing();
    pacing.defer('a', 60_000, 60_000);
    const controller = new AbortController();
    const waiting = pacing.wait('a', controller.signal);
    controller.abort(new Error('stop'));
    await expect(waiting).rejects.toThrow('stop');
  });
});
