/** The pure pieces of the connection state machine, for every input (fast-check). */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { IdentityTracker } from '../../src/connection/identity.js';

describe('IdentityTracker', () => {
  it('reports a change of serving node exactly when the epoch rises (or the node changes without epochs)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ node: fc.constantFrom('a', 'b', 'c'), epoch: fc.option(fc.integer({ min: 0, max: 5 }), { nil: undefined }) }), { maxLength: 30 }),
        (answers) => {
          const tracker = new IdentityTracker();
          let highest: number | undefined;
          for (const { node, epoch } of answers) {
            const before = tracker.current;
            const previous = tracker.observe(node, epoch);
            const after = tracker.current;
            if (previous !== null) {
              expect(previous).toEqual(before);
              expect(after).toEqual({ node, epoch });
            }
            // The tracked epoch never goes down.
            if (after.epoch !== undefined && highest !== undefined && before.epoch !== undefined) {
              expect(after.epoch).toBeGreaterThanOrEqual(before.epoch);
            }
            if (after.epoch !== undefined) highest = Math.max(highest ?? after.epoch, after.epoch);
          }
        },
      ),
    );
  });

  it('ignores a late answer from the deposed node', () => {
    const tracker = new IdentityTracker();
    expect(tracker.observe('a', 1)).toBeNull(); // first sighting is not a failover
    expect(tracker.observe('b', 2)).toEqual({ node: 'a', epoch: 1 });
    expect(tracker.observe('a', 1)).toBeNull();
    expect(tracker.current).toEqual({ node: 'b', epoch: 2 });
    expect(tracker.observe('b', 3)).toEqual({ node: 'b', epoch: 2 }); // re-acquired: a new term
  });
});
