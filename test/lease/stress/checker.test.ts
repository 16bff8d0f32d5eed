import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkHistory, formatSummary, type Action, type DbWrite, type History } from './checker.js';

/**
 * Synthetic histories: a run of holders, each serving for a while with a few actions, in token
 * order and without overlap. Optionally the last action of a holder is still in flight when the
 * next holder starts, with its write rejected by the fence: that is allowed.
 */
interface Shape {
  holders: {
    pid: number;
    tokenStep: number;
    gapBefore: number;
    actions: { gap: number; dur: number; outcome: 'accepted' | 'rejected' | 'error'; errorCommitted: boolean }[];
    tailInFlight: boolean;
  }[];
}

const shapeArb: fc.Arbitrary<Shape> = fc.record({
  holders: fc.array(
    fc.record({
      pid: fc.integer({ min: 100, max: 110 }),
      tokenStep: fc.integer({ min: 1, max: 3 }),
      gapBefore: fc.integer({ min: 1, max: 1_000_000 }),
      actions: fc.array(
        fc.record({
          gap: fc.integer({ min: 0, max: 100_000 }),
          dur: fc.integer({ min: 0, max: 100_000 }),
          outcome: fc.constantFrom('accepted' as const, 'accepted' as const, 'rejected' as const, 'error' as const),
          errorCommitted: fc.boolean(),
        }),
        { minLength: 1, maxLength: 6 },
      ),
      tailInFlight: fc.boolean(),
    }),
    { minLength: 1, maxLength: 8 },
  ),
});

interface Built {
  history: History;
  /** Per holder: token, pid, start of the window. */
  windows: { token: number; pid: number; start: number; lastCheck: number }[];
}

function build(shape: Shape): Built {
  const actions: Action[] = [];
  const writes: DbWrite[] = [];
  const windows: Built['windows'] = [];
  let token = 0;
  let cursor = 0;
  let seq = 0;
  let id = 0;
  let pendingTail: Action | undefined;
  for (const h of shape.holders) {
    token += h.tokenStep;
    cursor += h.gapBefore;
    const start = cursor;
    // A tail still in flight from the previous holder completes after this one starts.
    if (pendingTail) {
      pendingTail.done = start + 1;
      pendingTail = undefined;
    }
    let lastCheck = start;
    h.actions.forEach((spec, i) => {
      if (i > 0) cursor += spec.gap;
      const action: Action = { pid: h.pid, token, seq: ++seq, check: cursor, done: cursor + spec.dur, outcome: spec.outcome };
      lastCheck = cursor;
      cursor += spec.dur + 1;
      actions.push(action);
      if (spec.outcome === 'accepted' || (spec.outcome === 'error' && spec.errorCommitted)) {
        writes.push({ id: ++id, token, pid: h.pid, seq: action.seq, leaseToken: token });
      }
    });
    if (h.tailInFlight) {
      // An action checked before the takeover but rejected by the fence after it.
      const tail: Action = { pid: h.pid, token, seq: ++seq, check: cursor, outcome: 'rejected' };
      actions.push(tail);
      lastCheck = cursor;
      cursor += 1;
      pendingTail = tail;
    }
    windows.push({ token, pid: h.pid, start, lastCheck });
  }
  if (pendingTail) pendingTail.done = cursor + 5;
  return { history: { actions, faults: [], deaths: [], writes, counter: writes.length }, windows };
}

describe('stress checker', () => {
  it('passes every valid history', () => {
    fc.assert(
      fc.property(shapeArb, (shape) => {
        const { history } = build(shape);
        const result = checkHistory(history);
        expect(result.violations).toEqual([]);
        expect(result.windows.length).toBe(shape.holders.length);
        expect(result.takeovers).toBe(shape.holders.length - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('catches a holder that acts after the next holder started, anywhere in its window', () => {
    fc.assert(
      fc.property(
        shapeArb.filter((s) => s.holders.length >= 2),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 0, max: 50_000 }),
        (shape, pick, pickLater, delta) => {
          const { history, windows } = build(shape);
          const i = pick % (windows.length - 1);
          const j = i + 1 + (pickLater % (windows.length - 1 - i));
          const stale = windows[i]!;
          const later = windows[j]!;
          // The stale holder passes isValid() at or after the later holder's first check.
          const check = later.start + delta;
          const actions = [...history.actions, { pid: stale.pid, token: stale.token, seq: 1e9, check, done: check + 10, outcome: 'rejected' as const }];
          const result = checkHistory({ ...history, actions });
          expect(result.violations.map((v) => v.kind)).toContain('overlap');
        },
      ),
      { numRuns: 300 },
    );
  });

  it('catches tokens that do not increase across successive holders', () => {
    fc.assert(
      fc.property(shapeArb.filter((s) => s.holders.length >= 2), fc.nat(), (shape, pick) => {
        const { history, windows } = build(shape);
        const i = pick % (windows.length - 1);
        const a = windows[i]!.token;
        const b = windows[i + 1]!.token;
        const swap = (t: number): number => (t === a ? b : t === b ? a : t);
        const actions = history.actions.map((x) => ({ ...x, token: swap(x.token) }));
        const writes = history.writes.map((w) => ({ ...w, token: swap(w.token), leaseToken: swap(w.leaseToken) }));
        const kinds = checkHistory({ ...history, actions, writes }).violations.map((v) => v.kind);
        expect(kinds).toContain('token-order');
      }),
      { numRuns: 200 },
    );
  });

  it('catches an accepted write with a stale token, a wrong counter, lost and phantom writes', () => {
    fc.assert(
      fc.property(shapeArb.filter((s) => build(s).history.writes.length > 0), fc.nat(), (shape, pick) => {
        const { history } = build(shape);
        const k = pick % history.writes.length;
        const stale = history.writes.map((w, i) => (i === k ? { ...w, leaseToken: w.leaseToken + 1 } : w));
        expect(checkHistory({ ...history, writes: stale }).violations.map((v) => v.kind)).toContain('stale-write');
        expect(checkHistory({ ...history, counter: history.counter + 1 }).violations.map((v) => v.kind)).toContain('counter');

        const dropped = history.writes.filter((_, i) => i !== k);
        const victim = history.writes[k]!;
        const kinds = checkHistory({ ...history, writes: dropped, counter: dropped.length }).violations.map((v) => v.kind);
        const loggedAccepted = history.actions.find((a) => a.pid === victim.pid && a.seq === victim.seq)?.outcome === 'accepted';
        if (loggedAccepted) expect(kinds).toContain('lost-write');

        const flipped = history.actions.map((a) => (a.pid === victim.pid && a.seq === victim.seq ? { ...a, outcome: 'rejected' as const } : a));
        expect(checkHistory({ ...history, actions: flipped }).violations.map((v) => v.kind)).toContain('phantom-write');
      }),
      { numRuns: 200 },
    );
  });

  it('catches writes committed out of token order', () => {
    const actions: Action[] = [
      { pid: 1, token: 1, seq: 1, check: 0, done: 5, outcome: 'accepted' },
      { pid: 2, token: 2, seq: 1, check: 10, done: 15, outcome: 'accepted' },
    ];
    const writes: DbWrite[] = [
      { id: 1, token: 2, pid: 2, seq: 1, leaseToken: 2 },
      { id: 2, token: 1, pid: 1, seq: 1, leaseToken: 1 },
    ];
    const kinds = checkHistory({ actions, writes, faults: [], deaths: [], counter: 2 }).violations.map((v) => v.kind);
    expect(kinds).toEqual(['write-order']);
  });

  it('ends a killed holder’s unfinished action at its death, and flags a token shared by two processes', () => {
    const actions: Action[] = [
      { pid: 1, token: 1, seq: 1, check: 0 },
      { pid: 2, token: 2, seq: 1, check: 100, done: 110, outcome: 'accepted' },
    ];
    const writes: DbWrite[] = [{ id: 1, token: 2, pid: 2, seq: 1, leaseToken: 2 }];
    const killedEarly = checkHistory({ actions, writes, faults: [], deaths: [{ pid: 1, ts: 50 }], counter: 1 });
    expect(killedEarly.violations).toEqual([]);
    expect(killedEarly.inFlightAtTakeover).toBe(0);
    // Without a known death the action is assumed to run to the end: in flight at the takeover.
    const unknown = checkHistory({ actions, writes, faults: [], deaths: [], counter: 1 });
    expect(unknown.violations).toEqual([]);
    expect(unknown.inFlightAtTakeover).toBe(1);

    const shared = checkHistory({
      actions: [...actions, { pid: 3, token: 2, seq: 9, check: 120, done: 121, outcome: 'rejected' }],
      writes,
      faults: [],
      deaths: [{ pid: 1, ts: 50 }],
      counter: 1,
    });
    expect(shared.violations.map((v) => v.kind)).toEqual(['token-shared']);
  });

  it('prints the summary with the violation count', () => {
    const { history } = build({
      holders: [
        { pid: 1, tokenStep: 1, gapBefore: 1, actions: [{ gap: 0, dur: 1, outcome: 'accepted', errorCommitted: false }], tailInFlight: false },
      ],
    });
    const text = formatSummary(checkHistory({ ...history, faults: [{ kind: 'stop', pid: 1, start: 0, end: 1 }] }), 'sqlite');
    expect(text).toContain('violations: 0');
    expect(text).toContain('stop 1');
    expect(text).toContain('accepted writes: 1');
  });

  it('a window starts when acquire() resolved: a stale check after it is an overlap, even before the new holder acts', () => {
    const actions: Action[] = [
      { pid: 1, token: 6, seq: 1, check: 100, done: 101, outcome: 'accepted' },
      // pid 2 acquired token 7 at 150 and first acted at 170; pid 1 checked at 160.
      { pid: 1, token: 6, seq: 2, check: 160, done: 161, outcome: 'rejected' },
      { pid: 2, token: 7, seq: 1, check: 170, done: 171, outcome: 'accepted' },
    ];
    const writes: DbWrite[] = [
      { id: 1, token: 6, pid: 1, seq: 1, leaseToken: 6 },
      { id: 2, token: 7, pid: 2, seq: 1, leaseToken: 7 },
    ];
    const base = { actions, writes, faults: [], deaths: [], counter: 2 };
    expect(checkHistory(base).violations).toEqual([]);
    const withAcq = checkHistory({ ...base, acquisitions: [{ pid: 2, token: 7, ts: 150 }] });
    expect(withAcq.violations.map((v) => v.kind)).toEqual(['overlap']);
    expect(withAcq.violations[0]?.message).toContain('+0.000 ms');
    // A holder that acquired and never acted still opens a window.
    const idle = checkHistory({ ...base, actions: actions.slice(0, 2), writes: writes.slice(0, 1), counter: 1, acquisitions: [{ pid: 3, token: 7, ts: 150 }] });
    expect(idle.violations.map((v) => v.kind)).toEqual(['overlap']);
    // Two processes claiming one token.
    const twice = checkHistory({ ...base, acquisitions: [{ pid: 2, token: 7, ts: 150 }, { pid: 3, token: 7, ts: 155 }] });
    expect(twice.violations.map((v) => v.kind)).toContain('token-shared');
  });
});
