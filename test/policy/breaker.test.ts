import { createHook } from 'node:async_hooks';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  AuthenticationException,
  CallAbortedException,
  CircuitOpenException,
  ClientClosedException,
  ConfigurationError,
  ConnectionFailureException,
  ProtocolException,
  RemoteCallException,
  UnknownOutcomeException,
} from '../../src/errors.js';
import {
  CircuitBreakers,
  DEFAULT_BREAKER,
  resolveBreakerOptions,
  type BreakerStateEvent,
  type ResolvedBreakerOptions,
} from '../../src/policy/breaker.js';
import { Deadline } from '../../src/policy/deadline.js';

const URL_A = 'http://user:pw-secret-1@127.0.0.1:18080';
const options = (over: Partial<ResolvedBreakerOptions> = {}): ResolvedBreakerOptions => ({ ...DEFAULT_BREAKER, ...over });
const refused = (): ConnectionFailureException => new ConnectionFailureException('refused');

/** opossum counts a failure a few microtasks later. */
async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

function setup(over: Partial<ResolvedBreakerOptions> = {}) {
  const events: BreakerStateEvent[] = [];
  const breakers = new CircuitBreakers(options(over), { onStateChange: (e) => events.push(e), clock: () => Date.now() });
  const succeed = (n = 1): void => {
    for (let i = 0; i < n; i++) breakers.admit(URL_A).success();
  };
  const fail = async (n = 1, error: () => unknown = refused): Promise<void> => {
    for (let i = 0; i < n; i++) breakers.admit(URL_A).failure(error());
    await flush();
  };
  return { breakers, events, succeed, fail };
}

describe('circuit breaker (fake timers)', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('opens when the failure rate over the window passes the threshold, once volume is reached', async () => {
    const { breakers, events, succeed, fail } = setup({ volumeThreshold: 5, errorThresholdPercentage: 50 });
    succeed(2);
    await fail(2);
    expect(breakers.state(URL_A)).toBe('closed'); // 4 calls: below the volume threshold
    await fail(1); // 5 calls, 60 % failures
    expect(breakers.state(URL_A)).toBe('open');
    expect(events).toEqual([{ state: 'open', backend: 'http://127.0.0.1:18080/', node: undefined, epoch: undefined, cause: 'failures' }]);
    expect(JSON.stringify(events)).not.toContain('pw-secret-1');
    let refusal: unknown;
    try {
      breakers.admit(URL_A, 'transfer');
    } catch (error) {
      refusal = error;
    }
    expect(refusal).toBeInstanceOf(CircuitOpenException);
    expect((refusal as CircuitOpenException).mayHaveExecuted).toBe(false);
    expect((refusal as CircuitOpenException).method).toBe('transfer');
    expect((refusal as Error).message).not.toContain('pw-secret-1');
    breakers.dispose();
  });

  it('stays closed at exactly the threshold and below the volume threshold', async () => {
    const a = setup({ volumeThreshold: 4, errorThresholdPercentage: 50 });
    a.succeed(2);
    await a.fail(2); // 50 % is not "over" 50 %
    expect(a.breakers.state(URL_A)).toBe('closed');
    a.breakers.dispose();
    const b = setup({ volumeThreshold: 10 });
    await b.fail(9); // 100 % but only 9 calls
    expect(b.breakers.state(URL_A)).toBe('closed');
    b.breakers.dispose();
  });

  it('counts only sick-backend failures: a server error answer is health, an abort is nothing', async () => {
    const { breakers, fail } = setup({ volumeThreshold: 1, errorThresholdPercentage: 10 });
    await fail(20, () => new RemoteCallException(-32000, 'business error', null));
    await fail(5, () => new AuthenticationException(403, 'forbidden'));
    await fail(20, () => new CallAbortedException());
    await fail(5, () => new TypeError('bug'));
    expect(breakers.state(URL_A)).toBe('closed');
    const stats = (breakers as unknown as { entries: Map<string, { breaker: { stats: { fires: number; failures: number } } }> }).entries
      .get(URL_A)
      ?.breaker.stats;
    expect(stats).toMatchObject({ fires: 25, failures: 0 });
    await fail(1, () => new UnknownOutcomeException('reset'));
    await fail(2, () => new ProtocolException('garbage'));
    expect(breakers.state(URL_A)).toBe('open'); // 3/28 > 10 %
    breakers.dispose();
  });

  it('forgets failures that roll out of the window (one shared rotation timer)', async () => {
    const { breakers, fail, succeed } = setup({ volumeThreshold: 5, rollingCountTimeoutMs: 1000, rollingCountBuckets: 10 });
    await fail(4);
    vi.advanceTimersByTime(1100);
    await fail(1);
    succeed(3);
    expect(breakers.state(URL_A)).toBe('closed'); // 4 calls in the window, 1 failure
    await fail(3);
    expect(breakers.state(URL_A)).toBe('open'); // 7 calls, 4 failures
    breakers.dispose();
  });

  it('goes half-open after resetTimeout and lets exactly one trial through', async () => {
    const { breakers, events, fail } = setup({ volumeThreshold: 2, resetTimeoutMs: 1000 });
    await fail(2);
    expect(breakers.state(URL_A)).toBe('open');
    vi.advanceTimersByTime(999);
    expect(breakers.state(URL_A)).toBe('open');
    vi.advanceTimersByTime(1);
    expect(breakers.state(URL_A)).toBe('half-open');
    const trial = breakers.admit(URL_A);
    expect(() => breakers.admit(URL_A)).toThrow(CircuitOpenException);
    expect(() => breakers.admit(URL_A)).toThrow(/trial/);
    trial.success();
    expect(breakers.state(URL_A)).toBe('closed');
    expect(events.map((e) => [e.state, e.cause])).toEqual([
      ['open', 'failures'],
      ['half-open', 'reset-timeout'],
      ['closed', 'trial-succeeded'],
    ]);
    breakers.dispose();
  });

  it('a failed trial re-opens and re-arms the reset timer; an abandoned trial frees the slot', async () => {
    const { breakers, events, fail } = setup({ volumeThreshold: 1, resetTimeoutMs: 500 });
    await fail(1);
    vi.advanceTimersByTime(500);
    breakers.admit(URL_A).failure(new UnknownOutcomeException('reset'));
    expect(breakers.state(URL_A)).toBe('open');
    vi.advanceTimersByTime(500);
    expect(breakers.state(URL_A)).toBe('half-open');
    breakers.admit(URL_A).release(); // caller aborted: no evidence either way
    expect(breakers.state(URL_A)).toBe('half-open');
    breakers.admit(URL_A).failure(new RemoteCallException(-1, 'answered', null)); // a healthy answer
    expect(breakers.state(URL_A)).toBe('closed');
    expect(events.map((e) => e.cause)).toEqual(['failures', 'reset-timeout', 'trial-failed', 'reset-timeout', 'trial-succeeded']);
    breakers.dispose();
  });

  it('a new node identity replaces the breaker; stale or standby answers do not', async () => {
    const { breakers, events, fail } = setup({ volumeThreshold: 3 });
    breakers.observeIdentity(URL_A, 'node-a', 7);
    await fail(3);
    expect(breakers.state(URL_A)).toBe('open');
    breakers.observeIdentity(URL_A, 'node-b', 7); // standby answering NOT_ACTIVE under the old term
    breakers.observeIdentity(URL_A, 'node-a', 6); // a stale answer
    expect(breakers.state(URL_A)).toBe('open');
    breakers.observeIdentity(URL_A, 'node-b', 8); // promoted: a new term
    expect(breakers.state(URL_A)).toBe('closed');
    expect(events.at(-1)).toEqual({ state: 'closed', backend: 'http://127.0.0.1:18080/', node: 'node-b', epoch: 8, cause: 'identity-changed' });
    await fail(2); // the old failures are gone: 2 < volume 3
    expect(breakers.state(URL_A)).toBe('closed');
    breakers.dispose();
  });

  it('without epochs, a different node is a new identity', async () => {
    const { breakers, fail } = setup({ volumeThreshold: 1 });
    breakers.observeIdentity(URL_A, 'a', undefined);
    await fail(1);
    breakers.observeIdentity(URL_A, 'a', undefined);
    expect(breakers.state(URL_A)).toBe('open');
    breakers.observeIdentity(URL_A, 'b', undefined);
    expect(breakers.state(URL_A)).toBe('closed');
    await fail(1);
    breakers.observeIdentity(URL_A, 'c', 4); // first answer with an epoch, from another node
    expect(breakers.state(URL_A)).toBe('closed');
    await fail(1);
    breakers.observeIdentity(URL_A, 'c', 4);
    expect(breakers.state(URL_A)).toBe('open');
    breakers.dispose();
  });

  it("whenOpen 'wait' waits for the half-open slot instead of failing", async () => {
    const { breakers, fail } = setup({ volumeThreshold: 1, resetTimeoutMs: 1000, whenOpen: 'wait' });
    await fail(1);
    let permit: unknown;
    const waiting = breakers.acquire(URL_A, { deadline: new Deadline(5000, () => Date.now()) }).then((p) => (permit = p));
    await vi.advanceTimersByTimeAsync(900);
    expect(permit).toBeUndefined();
    await vi.advanceTimersByTimeAsync(200);
    await waiting;
    expect(permit).toBeDefined();
    expect(breakers.state(URL_A)).toBe('half-open');
    // A second waiter gets the slot when the trial is abandoned.
    const second = breakers.acquire(URL_A, { deadline: new Deadline(5000, () => Date.now()) });
    (permit as { release(): void }).release();
    (await second).success();
    expect(breakers.state(URL_A)).toBe('closed');
    breakers.dispose();
  });

  it("whenOpen 'wait' is bounded by the deadline and by the signal", async () => {
    const { breakers, fail } = setup({ volumeThreshold: 1, resetTimeoutMs: 10_000, whenOpen: 'wait' });
    await fail(1);
    const late = breakers.acquire(URL_A, { deadline: new Deadline(300, () => Date.now()) });
    const lateResult = late.catch((e: unknown) => e);
    await vi.advanceTimersByTimeAsync(300);
    expect(await lateResult).toBeInstanceOf(CircuitOpenException);

    const controller = new AbortController();
    const aborted = breakers.acquire(URL_A, { signal: controller.signal }).catch((e: unknown) => e);
    controller.abort(new CallAbortedException());
    expect(await aborted).toBeInstanceOf(CallAbortedException);

    // A plain abort() (a DOMException reason) still ends as an RPCException.
    const plain = new AbortController();
    const plainResult = breakers.acquire(URL_A, { signal: plain.signal, method: 'balance' }).catch((e: unknown) => e);
    plain.abort();
    const error = (await plainResult) as CallAbortedException;
    expect(error).toBeInstanceOf(CallAbortedException);
    expect(error.method).toBe('balance');
    expect(error.mayHaveExecuted).toBe(false);
    breakers.dispose();
  });

  it('identity change wakes waiters at once', async () => {
    const { breakers, fail } = setup({ volumeThreshold: 1, resetTimeoutMs: 60_000, whenOpen: 'wait' });
    breakers.observeIdentity(URL_A, 'a', 1);
    await fail(1);
    const waiting = breakers.acquire(URL_A);
    breakers.observeIdentity(URL_A, 'b', 2);
    (await waiting).success();
    expect(breakers.state(URL_A)).toBe('closed');
    breakers.dispose();
  });

  it('breaker: false admits everything', () => {
    const breakers = new CircuitBreakers(false);
    for (let i = 0; i < 100; i++) breakers.admit(URL_A).failure(refused());
    expect(breakers.state(URL_A)).toBe('closed');
    breakers.dispose();
  });
});

describe('circuit breaker threshold rule (property)', () => {
  type Outcome = 'success' | 'failure' | 'remote' | 'abort';
  it('opens exactly when volume is reached and the failure percentage exceeds the threshold', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 100 }),
        fc.array(fc.constantFrom<Outcome>('success', 'failure', 'remote', 'abort'), { maxLength: 40 }),
        async (volumeThreshold, errorThresholdPercentage, outcomes) => {
          const breakers = new CircuitBreakers(options({ volumeThreshold, errorThresholdPercentage, resetTimeoutMs: 60_000 }));
          let fires = 0;
          let failures = 0;
          let open = false;
          try {
            for (const outcome of outcomes) {
              const permit = breakers.admit(URL_A);
              if (outcome === 'success') permit.success();
              else if (outcome === 'remote') permit.failure(new RemoteCallException(1, 'answered', null));
              else if (outcome === 'abort') permit.failure(new CallAbortedException());
              else permit.failure(refused());
              await flush();
              if (outcome === 'success' || outcome === 'remote') fires++;
              if (outcome === 'failure') {
                fires++;
                failures++;
                open = fires >= volumeThreshold && (failures / fires) * 100 > errorThresholdPercentage;
              }
              expect(breakers.state(URL_A)).toBe(open ? 'open' : 'closed');
              if (open) break;
            }
          } finally {
            breakers.dispose();
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('circuit breaker resources and cost (real timers)', () => {
  it('many backends are fine: no MaxListeners warning', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    const breakers = new CircuitBreakers(DEFAULT_BREAKER);
    for (let i = 0; i < 40; i++) breakers.admit(`http://127.0.0.1:${30_000 + i}`).success();
    await new Promise((r) => setImmediate(r));
    breakers.dispose();
    process.off('warning', onWarning);
    expect(warnings).toEqual([]);
  });

  it('dispose() ends every timer: rotation, reset timers, wait timers', async () => {
    const live = new Set<number>();
    const hook = createHook({
      init(id, type) {
        if (type === 'Timeout') live.add(id);
      },
      destroy(id) {
        live.delete(id);
      },
    }).enable();
    try {
      const breakers = new CircuitBreakers(options({ volumeThreshold: 1, resetTimeoutMs: 60_000, whenOpen: 'wait' }));
      for (let i = 0; i < 20; i++) {
        const url = `http://127.0.0.1:${20_000 + i}`;
        breakers.observeIdentity(url, 'a', 1);
        breakers.admit(url).failure(refused());
        breakers.observeIdentity(url, 'b', 2); // retires one breaker per backend
        breakers.admit(url).failure(refused());
      }
      await flush();
      // A call waiting (no deadline) for an open breaker: its ref'd wake-up timer is live.
      const waiting = breakers.acquire('http://127.0.0.1:20000').catch((e: unknown) => e);
      await flush();
      expect(live.size).toBeGreaterThan(0);
      breakers.dispose();
      expect(await waiting).toBeInstanceOf(ClientClosedException);
      await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setImmediate(r));
      // Only the sleep timers above may have been live in between; none of ours remain.
      expect(live.size).toBe(0);
      expect(() => breakers.admit('http://127.0.0.1:1')).toThrow(/disposed/);
    } finally {
      hook.disable();
    }
  });
});

describe('breaker options', () => {
  it('defaults follow DESIGN §4', () => {
    expect(resolveBreakerOptions(undefined)).toMatchObject({ errorThresholdPercentage: 50, resetTimeoutMs: 1000, volumeThreshold: 5, whenOpen: 'wait' });
    expect(resolveBreakerOptions(false)).toBe(false);
  });
  const bad: Array<[unknown, string]> = [
    [{ errorThresholdPercentage: 150 }, 'breaker.errorThresholdPercentage'],
    [{ errorThresholdPercentage: Number.NaN }, 'breaker.errorThresholdPercentage'],
    [{ resetTimeoutMs: 0 }, 'breaker.resetTimeoutMs'],
    [{ resetTimeoutMs: Number.POSITIVE_INFINITY }, 'breaker.resetTimeoutMs'],
    [{ volumeThreshold: -1 }, 'breaker.volumeThreshold'],
    [{ volumeThreshold: 2.5 }, 'breaker.volumeThreshold'],
    [{ rollingCountTimeoutMs: -10 }, 'breaker.rollingCountTimeoutMs'],
    [{ rollingCountBuckets: 0 }, 'breaker.rollingCountBuckets'],
    [{ rollingCountTimeoutMs: 5, rollingCountBuckets: 10 }, 'breaker.rollingCountBuckets'],
    [{ whenOpen: 'retry' }, 'breaker.whenOpen'],
    [{ threshold: 5 }, 'breaker.threshold'],
    [[], 'breaker'],
  ];
  it.each(bad)('rejects %j naming %s', (input, field) => {
    let caught: unknown;
    try {
      resolveBreakerOptions(input);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(ConfigurationError);
    expect((caught as ConfigurationError).field).toBe(field);
  });
});
