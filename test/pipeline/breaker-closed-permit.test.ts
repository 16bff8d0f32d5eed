/**
 * The success path's closed-breaker permit (`closedPermitFor`, breaker state kept from opossum's
 * events) through a whole open → half-open → closed → open cycle, with calls in flight across
 * each transition: no closed permit while open, the half-open trial closes it, a call that took
 * the closed permit before it opened settles without harm, and a success after re-opening is
 * still refused. The attempts are plain functions (createPolicy's contract).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { CircuitOpenException, UnknownOutcomeException, createPolicy, type Policy } from 'hotcold';
import { recordEvents, until } from './support.js';

const policies: Policy[] = [];
afterEach(async () => {
  await Promise.all(policies.splice(0).map((p) => p.close()));
});

/** A call whose outcome the test decides later. */
function held(): { fn: () => Promise<string>; succeed(): void; fail(): void } {
  let resolve!: (v: string) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<string>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return {
    fn: () => promise,
    succeed: () => resolve('late'),
    fail: () => reject(new UnknownOutcomeException('reset after the request was written', { mayHaveExecuted: true })),
  };
}

const maybe = (): Promise<never> => Promise.reject(new UnknownOutcomeException('reset after the request was written', { mayHaveExecuted: true }));

describe('breaker transitions with calls in flight (closed permit on the success path)', () => {
  it('open refuses, half-open trial closes, in-flight calls settle across transitions, re-open refuses again', async () => {
    const p = createPolicy({
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1500, whenOpen: 'fail' },
      retry: { maxAttempts: 1 },
      budget: false,
      methods: { op: { idempotent: true } },
    });
    policies.push(p);
    const events = recordEvents(p.events$);
    expect(await p.execute(() => Promise.resolve('warm'), { name: 'op' })).toBe('warm');

    const before = held();
    const inFlight = p.execute(before.fn, { name: 'op' });
    await p.execute(maybe, { name: 'op' }).catch(() => undefined);
    await p.execute(maybe, { name: 'op' }).catch(() => undefined);
    await until(() => events.of('breaker-open').length === 1, 10_000, 'breaker open');
    await expect(p.execute(() => Promise.resolve('x'), { name: 'op' })).rejects.toBeInstanceOf(CircuitOpenException);
    // Took the closed permit before the breaker opened: its success now changes nothing.
    before.succeed();
    expect(await inFlight).toBe('late');
    const refused = await p.execute(() => Promise.resolve('x'), { name: 'op' }).catch((e: unknown) => e);
    // (Unless the reset timeout already passed on a slow machine: then that call was the trial.)
    if (events.of('breaker-half-open').length === 0) expect(refused).toBeInstanceOf(CircuitOpenException);

    await until(() => events.of('breaker-half-open').length === 1, 10_000, 'half-open');
    expect(await p.execute(() => Promise.resolve('trial'), { name: 'op' })).toBe('trial');
    await until(() => events.of('breaker-close').length === 1, 10_000, 'closed');
    expect(await p.execute(() => Promise.resolve('after'), { name: 'op' })).toBe('after');

    // Closed again: a call takes the closed permit, the breaker re-opens under it, then it fails.
    const across = held();
    const second = p.execute(across.fn, { name: 'op' }).catch((e: unknown) => e);
    for (let i = 0; i < 6 && events.of('breaker-open').length < 2; i++) await p.execute(maybe, { name: 'op' }).catch(() => undefined);
    await until(() => events.of('breaker-open').length === 2, 10_000, 'breaker open again');
    across.fail();
    expect(await second).toBeInstanceOf(UnknownOutcomeException);
    await expect(p.execute(() => Promise.resolve('x'), { name: 'op' })).rejects.toBeInstanceOf(CircuitOpenException);
    expect(events.all.filter((e) => e.type.startsWith('breaker-')).map((e) => e.type)).toEqual([
      'breaker-open',
      'breaker-half-open',
      'breaker-close',
      'breaker-open',
    ]);
  });
});
