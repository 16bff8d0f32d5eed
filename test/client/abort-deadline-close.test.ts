/**
 * Ending calls early: the caller's AbortSignal (in flight and during a backoff sleep), the
 * whole-call deadline, and close() — each with a truthful `mayHaveExecuted`.
 */
import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import {
  CallAbortedException,
  ClientClosedException,
  DeadlineExceededException,
  type HotcoldClient,
  type ClientOptions,
} from 'hotcold';
import { FAST_RECONNECT, delay, until, faultServerSuite } from './helpers.js';

const suite = faultServerSuite({ retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 }, reconnect: FAST_RECONNECT });
const client = (options: Partial<ClientOptions> = {}): HotcoldClient => suite.client(options);

/**
 * Runs `start` and times it from before it is called: a call reads its deadline's start while it
 * runs synchronously (it sends attempt 1 before returning), so a stopwatch started after `call()`
 * returned misses that part, and a loaded machine (a preempted thread, a GC pause) made the call
 * look up to tens of ms shorter than its deadline.
 */
async function timed<T>(start: () => Promise<T>): Promise<{ value: unknown; ms: number }> {
  const t0 = performance.now();
  const value = await start().catch((e: unknown) => e);
  return { value, ms: performance.now() - t0 };
}

/** Keeps the event loop busy for `ms` (a stall: timers, I/O and the loop's cached clock wait). */
function blockLoop(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {
    // busy
  }
}

describe('abort', () => {
  it('an already aborted signal fails the call without sending anything', async () => {
    const c = client();
    const error = await c.call('x', {}, { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CallAbortedException);
    expect((error as CallAbortedException).mayHaveExecuted).toBe(false);
    expect(suite.server.requests).toHaveLength(0);
  });

  it('aborting cancels the request in flight at once (it had been sent: may have executed)', async () => {
    // The alternative is far away: the stalled attempt would end only at its 20 s timeout.
    // Ending before it, as an abort, is the evidence; how soon is a speed claim (bench/client.ts).
    const TIMEOUT_MS = 20_000;
    const c = client({ timeoutMs: TIMEOUT_MS });
    await suite.server.setMode('stall');
    const controller = new AbortController();
    const pending = timed(() => c.call('x', {}, { signal: controller.signal }));
    await suite.server.nextRequest();
    controller.abort();
    const { value, ms } = await pending;
    expect(value).toBeInstanceOf(CallAbortedException);
    expect((value as CallAbortedException).mayHaveExecuted).toBe(true);
    expect(ms).toBeLessThan(TIMEOUT_MS);
  });

  it('aborting cuts a backoff sleep short', async () => {
    const c = client({ retry: { maxAttempts: 3, minDelayMs: 20_000, maxDelayMs: 20_000, jitter: 'none' }, methods: { x: { idempotent: true } } });
    suite.server.enqueue('502');
    const controller = new AbortController();
    const pending = timed(() => c.call('x', {}, { signal: controller.signal }));
    await suite.server.nextRequest();
    await delay(50);
    controller.abort();
    const { value, ms } = await pending;
    expect(value).toBeInstanceOf(CallAbortedException);
    // The 502 may have been forwarded to a node: the call may have run.
    expect((value as CallAbortedException).mayHaveExecuted).toBe(true);
    expect(ms).toBeLessThan(5000);
    expect(suite.server.requests).toHaveLength(1);
  });

  it('aborting a call held during an outage frees its place at once (never sent: not executed)', async () => {
    const c = client({ methods: { x: { idempotent: true } } });
    suite.server.setHealth('standby');
    await suite.server.setMode('balancer-503');
    const first = c.call('x', {}, { deadlineMs: 2000 }).catch(() => undefined);
    await until(() => c.state.status === 'reconnecting');
    const controller = new AbortController();
    const pending = timed(() => c.call('x', {}, { signal: controller.signal }));
    await delay(30);
    controller.abort();
    const { value } = await pending;
    expect(value).toBeInstanceOf(CallAbortedException);
    expect((value as CallAbortedException).mayHaveExecuted).toBe(false);
    await c.close();
    await first;
  });
});

describe('signals', () => {
  it('a long-lived signal used for many calls keeps no listener behind', async () => {
    const c = client();
    const controller = new AbortController();
    for (let i = 0; i < 50; i++) await c.call('x', { i }, { signal: controller.signal });
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
  });
});

describe('deadline', () => {
  it('a stalled server: the call ends at its deadline, not at the per-attempt timeout', async () => {
    const c = client({ timeoutMs: 20_000 });
    await suite.server.setMode('stall');
    const { value, ms } = await timed(() => c.call('x', {}, { deadlineMs: 300 }));
    expect(value).toBeInstanceOf(DeadlineExceededException);
    expect((value as DeadlineExceededException).mayHaveExecuted).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(280);
    expect(ms).toBeLessThan(3000);
  });

  it('the event loop stalls right after the call started (a busy loop) or mid-call: the deadline still does not end it early', async () => {
    const c = client({ timeoutMs: 20_000 });
    await suite.server.setMode('stall');
    for (const stall of [0, 80, 150]) {
      const t0 = performance.now();
      const pending = c.call('x', {}, { deadlineMs: 200 }).catch((e: unknown) => e);
      // Blocks at once (before the request is even written), then again later while it waits.
      blockLoop(stall);
      await delay(stall / 2);
      blockLoop(stall);
      const value = await pending;
      expect(value).toBeInstanceOf(DeadlineExceededException);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(200);
    }
  });

  it('a call held during an outage ends with DeadlineExceeded only once its deadline has passed on the monotonic clock', async () => {
    // Node's timers run on the loop's cached whole-ms clock and fire up to ~1 ms early; the hold's
    // deadline timer re-arms for the rest (like Deadline.signal), so none of these ends early.
    const c = client({ methods: { x: { idempotent: true } } });
    suite.server.setHealth('standby');
    await suite.server.setMode('balancer-503');
    const first = c.call('x', {}, { deadlineMs: 5000 }).catch(() => undefined);
    await until(() => c.state.status === 'reconnecting');
    for (let i = 0; i < 20; i++) {
      const deadlineMs = 7 + (i % 5) + 0.5;
      const t0 = performance.now();
      const value = await c.call('x', {}, { deadlineMs }).catch((e: unknown) => e);
      const ms = performance.now() - t0;
      expect(value).toBeInstanceOf(DeadlineExceededException);
      expect((value as DeadlineExceededException).mayHaveExecuted).toBe(false);
      expect(ms, `call ${i}: deadline ${deadlineMs} ms`).toBeGreaterThanOrEqual(deadlineMs);
    }
    await c.close();
    await first;
  });

  it('a per-method deadline bounds a call held during an outage; it was never sent', async () => {
    const c = client({ methods: { quick: { idempotent: true, deadlineMs: 250 } } });
    suite.server.setHealth('standby');
    await suite.server.setMode('balancer-503');
    const { value, ms } = await timed(() => c.call('quick', {}));
    expect(value).toBeInstanceOf(DeadlineExceededException);
    expect((value as DeadlineExceededException).mayHaveExecuted).toBe(false);
    expect(ms).toBeLessThan(3000);
  });

  it('the per-attempt timeout ends one attempt, and the call goes on with the next', async () => {
    const c = client({ timeoutMs: 150, methods: { x: { idempotent: true } } });
    suite.server.enqueue('stall');
    await expect(c.call('x', {})).resolves.toBeDefined();
    expect(suite.server.requests.map((r) => r.attempt)).toEqual([1, 2]);
  });
});

describe('close', () => {
  it('rejects in-flight, held and later calls with ClientClosedException, truthfully', async () => {
    const c = client({ methods: { x: { idempotent: true } } });
    await suite.server.setMode('stall');
    const inFlight = c.call('x', {}).catch((e: unknown) => e);
    await suite.server.nextRequest();
    await c.close();
    const error = await inFlight;
    expect(error).toBeInstanceOf(ClientClosedException);
    expect((error as ClientClosedException).mayHaveExecuted).toBe(true);
    await expect(c.call('x', {})).rejects.toBeInstanceOf(ClientClosedException);
    expect(c.closed).toBe(true);
    expect(c.state.status).toBe('closed');
  });

  it('rejects calls held during an outage', async () => {
    const c = client({ methods: { x: { idempotent: true } } });
    suite.server.setHealth('standby');
    await suite.server.setMode('balancer-503');
    const held = c.call('x', {}).catch((e: unknown) => e);
    await until(() => c.state.status === 'reconnecting');
    await delay(20);
    await c.close();
    const error = await held;
    expect(error).toBeInstanceOf(ClientClosedException);
    expect((error as ClientClosedException).mayHaveExecuted).toBe(false);
  });

  it('close() is idempotent and leaves no timers or sockets of its own', async () => {
    const c = client({ methods: { x: { idempotent: true } } });
    await c.call('x', {});
    suite.server.enqueue('502');
    await c.call('x', {});
    await Promise.all([c.close(), c.close()]);
    await suite.server.close();
    await delay(20);
    const left = process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap');
    expect(left).toEqual([]);
  });
});
