/**
 * The engine's timing policy on a manual clock: no real sleep anywhere. The database is real
 * (SQLite in memory); only the renewal is made to hang, which is the fault under test.
 */
import { describe, expect, it } from 'vitest';
import { createLease, sqliteStore, type LeaseEvent, type LeaseStore } from '../../src/lease/index.js';
import { selfFencingSpan } from '../../src/lease/self-fencing.js';
import { ConfigurationError } from '../../src/errors.js';
import { LeaseLostError } from '../../src/lease/index.js';
import { ManualClock } from './manual-clock.js';

/** The same store, except that renewals never answer (a database that hangs on that row). */
function hangingRenewals(): LeaseStore {
  const store = sqliteStore(':memory:');
  const run = store.run.bind(store);
  return Object.assign(Object.create(store) as LeaseStore, {
    run: (sql: string, params?: readonly unknown[], options?: { timeoutMs?: number }) =>
      sql === store.sql.renew ? new Promise<never>(() => undefined) : run(sql, params, options),
    close: () => store.close(),
  });
}

/** The same store, except that each renewal's answer comes `ms` of `clock` after it ran (a slow round trip). */
function slowRenewals(clock: ManualClock, ms: number): LeaseStore {
  const store = sqliteStore(':memory:');
  const run = store.run.bind(store);
  return Object.assign(Object.create(store) as LeaseStore, {
    run: async (sql: string, params?: readonly unknown[], options?: { timeoutMs?: number }) => {
      const result = await run(sql, params, options);
      if (sql === store.sql.renew) await new Promise<void>((resolve) => clock.setTimer(resolve, ms));
      return result;
    },
    close: () => store.close(),
  });
}

/**
 * The same store, except that the renewal's answer waits for `release()` and then says the
 * database rejected it (no row changed): what the renewal statement answers for a lease that
 * expired by the database's clock.
 */
function heldRejectedRenewal(): { store: LeaseStore; sent: () => boolean; release: () => void } {
  const store = sqliteStore(':memory:');
  const run = store.run.bind(store);
  let sent = false;
  let release: () => void = () => undefined;
  const answer = new Promise<void>((resolve) => (release = resolve));
  const wrapped = Object.assign(Object.create(store) as LeaseStore, {
    run: async (sql: string, params?: readonly unknown[], options?: { timeoutMs?: number }) => {
      if (sql !== store.sql.renew) return run(sql, params, options);
      sent = true;
      await answer;
      return { changes: 0, rows: [] };
    },
    close: () => store.close(),
  });
  return { store: wrapped, sent: () => sent, release: () => release() };
}

describe('lease timing on an injected clock', () => {
  /**
   * A lease whose first renewal hangs until the clock has jumped past the self-fencing deadline
   * without running the deadline timer (a blocked event loop), then is rejected: the causes of
   * the losses it reported, and (with self-fencing off) whether it was still valid just before.
   */
  async function rejectedAfterTheDeadline(unsafeDisableSelfFencing: boolean): Promise<{ causes: string[]; validBefore: boolean | undefined; reason: unknown }> {
    const clock = new ManualClock();
    const { store, sent, release } = heldRejectedRenewal();
    const lease = createLease({ store, clock, machineName: 'm', updateInterval: 100, waitInterval: 1000, unsafeDisableSelfFencing });
    const causes: string[] = [];
    lease.events$.subscribe((e) => {
      if (e.type === 'lost') causes.push(e.cause);
    });
    const acquiring = lease.acquire();
    await clock.advance(0);
    const held = await acquiring;
    await clock.advance(100); // the first renewal is sent, and hangs
    expect(sent()).toBe(true);
    clock.jump(selfFencingSpan(1000) + 50); // past the deadline; its timer has not run yet
    // isValid() itself notices a passed deadline and fences: asked only where there is no deadline,
    // or the rejection would come second.
    const validBefore = unsafeDisableSelfFencing ? held.isValid() : undefined;
    release(); // the rejection arrives first
    await clock.advance(0);
    const reason = (held.signal.reason as LeaseLostError | undefined)?.reason;
    await lease.close();
    await store.close();
    return { causes, validBefore, reason };
  }

  it('a renewal answer handled after the deadline, before its timer ran, loses the lease as self-fenced, not superseded', async () => {
    // Under load the deadline timer runs late: the renewal's answer (here a rejection, as the
    // database gives for a lease its own clock expired) can be handled first. The lease had lapsed
    // by the holder's clock before that answer: the cause is the lapse.
    const { causes, reason } = await rejectedAfterTheDeadline(false);
    expect(causes).toEqual(['self-fenced']);
    expect(reason).toBe('self-fenced');
  });

  it('with unsafeDisableSelfFencing a rejection handled long after the would-be deadline stays superseded (no deadline to lapse)', async () => {
    // The reordering judges validity first: with self-fencing off the deadline is Infinity, so the
    // rejection is the only cause there is. A finite deadline here would report 'self-fenced'.
    const { causes, validBefore, reason } = await rejectedAfterTheDeadline(true);
    expect(validBefore).toBe(true);
    expect(causes).toEqual(['superseded']);
    expect(reason).toBe('superseded');
  });

  it('a renewal extends the deadline from its send, not from its answer', async () => {
    // The database stamps a renewal somewhere between its send and its answer: only the send is
    // known to come before the stamp. A deadline counted from the answer would outlive the lease
    // by the round trip (here 200 ms). The database's own clock is real: a 60 s waitInterval, so
    // that the renewal statement never finds the lease expired however slowly this test runs.
    const clock = new ManualClock();
    const SLOW = 200;
    const W = 60_000;
    const store = slowRenewals(clock, SLOW);
    const lease = createLease({ store, clock, machineName: 'm', updateInterval: 100, waitInterval: W });
    const renewedAt: number[] = [];
    lease.events$.subscribe((e) => {
      if (e.type === 'renewed') renewedAt.push(clock.now());
    });
    const acquiring = lease.acquire();
    await clock.advance(0);
    const held = await acquiring;
    const span = selfFencingSpan(W);
    await clock.advance(100); // the first renewal is sent at t = 100
    expect(renewedAt).toEqual([]);
    await clock.advance(SLOW); // and answered at t = 300
    expect(renewedAt).toEqual([100 + SLOW]);
    expect(held.isValid()).toBe(true);
    expect(held.remainingMs()).toBe(100 + span - (100 + SLOW));
    const closing = lease.close();
    await clock.advance(SLOW);
    await closing;
    await store.close();
  });

  it('a holder whose renewals hang fences itself at sentAt + span by its timer, renewal retries notwithstanding', async () => {
    const clock = new ManualClock();
    const store = hangingRenewals();
    const lease = createLease({ store, clock, machineName: 'm', updateInterval: 100, waitInterval: 500 });
    const events: LeaseEvent[] = [];
    lease.events$.subscribe((e) => events.push(e));
    const acquiring = lease.acquire();
    await clock.advance(0);
    const held = await acquiring;
    const span = selfFencingSpan(500);
    expect(held.remainingMs()).toBe(span);

    // A renewal is sent at t = 100 and hangs; it waits until just before the deadline leaves room
    // for one retry (self-fencing.ts renewalTimeout), which hangs too.
    await clock.advance(span - 0.5);
    expect(events.filter((e) => e.type === 'renew-failed').length).toBeGreaterThanOrEqual(1);
    expect(held.isValid()).toBe(true);
    expect(held.signal.aborted).toBe(false);

    // The deadline timer fires at the deadline (rounded up to the timer's whole ms), by itself.
    await clock.advance(1);
    expect(held.signal.aborted).toBe(true);
    expect(held.isValid()).toBe(false);
    expect(lease.state.status).toBe('lost');
    expect(events.find((e) => e.type === 'lost')).toMatchObject({ reason: expect.stringMatching(/self-fencing deadline/) });
    // close() waits for the renewal in flight, which ends at its statement timeout (clock time).
    const closing = lease.close();
    await clock.advance(100);
    await closing;
    await store.close();
  });

  it('isValid() alone notices a passed deadline when the timer has not run (a paused process)', async () => {
    const clock = new ManualClock();
    const store = hangingRenewals();
    const lease = createLease({ store, clock, machineName: 'm', updateInterval: 100, waitInterval: 500 });
    const acquiring = lease.acquire();
    await clock.advance(0);
    const held = await acquiring;
    // Time jumps past the deadline with no timer run yet: what a SIGSTOP looks like on resume.
    (clock as unknown as { t: number }).t = selfFencingSpan(500) - 0.001;
    expect(held.isValid()).toBe(true);
    (clock as unknown as { t: number }).t = selfFencingSpan(500);
    expect(held.isValid()).toBe(false);
    expect(held.signal.aborted).toBe(true);
    const closing = lease.close();
    await clock.advance(100);
    await closing;
    await store.close();
  });

  it('rejects a clock without now() or setTimer()', () => {
    const store = sqliteStore(':memory:');
    expect(() => createLease({ store, machineName: 'm', clock: { now: () => 0 } as never })).toThrow(ConfigurationError);
    expect(() => createLease({ store, machineName: 'm', clock: { now: () => 0 } as never })).toThrow(/clock/);
  });
});
