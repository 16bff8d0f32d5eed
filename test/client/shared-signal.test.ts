/**
 * One AbortSignal shared by hundreds of calls (a service's shutdown signal, one request's signal
 * passed to every call it makes). Each call used to add its own `abort` listener to that signal:
 * Node printed `MaxListenersExceededWarning` ("possible memory leak") at the eleventh call in
 * flight, and every `addEventListener` walked the listeners already there. A client, a policy and
 * an axios instance with a policy attached now keep one listener on a caller's signal however many
 * calls share it, and the abort still ends every call. Real loopback server that holds requests.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { getEventListeners } from 'node:events';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { CallAbortedException, createClient, createPolicy } from 'hotcold';
import { attachPolicy } from 'hotcold/axios';

const CALLS = 200;
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A server that reads each request and never answers (until closed). */
async function startHoldingServer(): Promise<{ url: string; received: () => number }> {
  let received = 0;
  const server = http.createServer((req) => {
    req.resume();
    req.on('end', () => received++);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received: () => received };
}

/** Collects MaxListenersExceededWarning while the test runs. */
function watchWarnings(): string[] {
  const seen: string[] = [];
  const onWarning = (warning: Error): void => {
    if (warning.name === 'MaxListenersExceededWarning') seen.push(warning.message);
  };
  process.on('warning', onWarning);
  cleanups.push(() => void process.off('warning', onWarning));
  return seen;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > 20_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The shared signal's listeners: Node's own, or the polyfill's. */
type Listened = { listeners(): number; signal: AbortSignal; abort(reason: Error): void };

function nodeSignal(): Listened {
  const controller = new AbortController();
  return { signal: controller.signal, listeners: () => getEventListeners(controller.signal, 'abort').length, abort: (reason) => controller.abort(reason) };
}

/**
 * What axios accepts as a signal besides Node's: a polyfill's (a class instance, as
 * abort-controller's is; axios copies a plain object into each request's config).
 */
class PolyfillSignal {
  aborted = false;
  reason: unknown = undefined;
  listeners: Array<() => void> = [];
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.push(listener);
  }
  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
}

function polyfillSignal(): Listened {
  const signal = new PolyfillSignal();
  return {
    signal: signal as unknown as AbortSignal,
    listeners: () => signal.listeners.length,
    abort: (reason) => {
      signal.aborted = true;
      signal.reason = reason;
      for (const listener of signal.listeners.splice(0)) listener();
    },
  };
}

/** Starts CALLS calls sharing `shared`, checks the listeners while they are in flight, aborts them all. */
async function sharedByMany(start: (i: number, signal: AbortSignal) => Promise<unknown>, shared: Listened, received: () => number): Promise<void> {
  const warnings = watchWarnings();
  const calls = Array.from({ length: CALLS }, (_, i) => start(i, shared.signal).then(
    () => new Error('resolved'),
    (error: unknown) => error,
  ));
  await until(() => received() === CALLS, 'every request to reach the server');
  expect(shared.listeners()).toBeLessThanOrEqual(1);
  shared.abort(new Error('shutting down'));
  const outcomes = await Promise.all(calls);
  for (const outcome of outcomes) {
    expect(outcome).toBeInstanceOf(CallAbortedException);
    expect((outcome as CallAbortedException).mayHaveExecuted).toBe(true); // every request had reached the server
  }
  expect(shared.listeners()).toBe(0);
  expect(warnings).toEqual([]);
}

describe('one signal shared by hundreds of calls in flight', () => {
  it('createClient: one listener on it, no MaxListenersExceededWarning, the abort ends every call', async () => {
    const server = await startHoldingServer();
    const client = createClient({ url: server.url, timeoutMs: 600_000, deadlineMs: 600_000 });
    cleanups.push(() => client.close());
    await sharedByMany((i, signal) => client.call('transfer', { i }, { signal }), nodeSignal(), server.received);
  }, 60_000);

  it('createPolicy: one listener on it, no MaxListenersExceededWarning, the abort ends every call', async () => {
    const server = await startHoldingServer();
    const agent = new http.Agent({ keepAlive: true });
    const policy = createPolicy({ timeoutMs: 600_000, deadlineMs: 600_000 });
    cleanups.push(() => agent.destroy());
    cleanups.push(() => policy.close());
    const send = (signal: AbortSignal): Promise<unknown> =>
      new Promise((resolve, reject) => {
        const req = http.request(`${server.url}/op`, { method: 'POST', agent, signal }, resolve);
        req.on('error', reject);
        req.end('{}');
      });
    await sharedByMany((_i, signal) => policy.execute(({ signal: attemptSignal }) => send(attemptSignal), { name: 'op', signal }), nodeSignal(), server.received);
  }, 60_000);

  it("attachPolicy: one listener on Node's signal and on a polyfill's, the abort ends every request", async () => {
    for (const shared of [nodeSignal(), polyfillSignal()]) {
      const server = await startHoldingServer();
      const api = axios.create({ baseURL: server.url, httpAgent: new http.Agent({ keepAlive: true }) });
      const attached = attachPolicy(api, { timeoutMs: 600_000, deadlineMs: 600_000 });
      cleanups.push(() => attached.detach());
      await sharedByMany((i, signal) => api.post('/transfers', { i }, { signal }), shared, server.received);
    }
  }, 60_000);
});
