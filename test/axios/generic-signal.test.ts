/**
 * axios takes any `GenericAbortSignal` as `signal` (an object with `aborted` and
 * `addEventListener`: a polyfill's AbortController, another realm's), and its http adapter listens
 * on it. attachPolicy hands the adapter a signal of its own per attempt, so it must watch such a
 * signal itself: unheard, the caller's abort neither ended the request nor its retries, and an
 * idempotent request was sent again after the caller had given up. Real loopback server.
 */
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException } from 'hotcold/axios';
import { startScriptedServer, until } from './helpers.js';
import { cleanupsAfterEach, FAST } from './evidence-kit.js';

const cleanups = cleanupsAfterEach();

/** The least axios accepts as a signal: not an instance of Node's AbortSignal. */
class PolyfillSignal {
  aborted = false;
  private listeners: Array<() => void> = [];
  addEventListener(_type: 'abort', listener: () => void): void {
    this.listeners.push(listener);
  }
  removeEventListener(_type: 'abort', listener: () => void): void {
    this.listeners = this.listeners.filter((l) => l !== listener);
  }
  abort(): void {
    this.aborted = true;
    for (const listener of this.listeners.splice(0)) listener();
  }
}

describe("a caller's signal that is not Node's AbortSignal", () => {
  it('ends a stalled GET at once: sent once, a cancel saying it may have run', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('GET', '/slow', { kind: 'stall' });
    const api = axios.create({ baseURL: server.url });
    const attached = attachPolicy(api, { ...FAST, timeoutMs: 1000 });
    cleanups.push(() => attached.detach());
    const signal = new PolyfillSignal();
    const pending = api.get('/slow', { signal: signal as unknown as AbortSignal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    await until(() => server.count('GET', '/slow') === 1);
    signal.abort();
    const error = await pending;
    expect(axios.isCancel(error)).toBe(true);
    expect(isRPCException(error) && error.kind === 'call-aborted' && error.mayHaveExecuted).toBe(true);
    expect(server.count('GET', '/slow')).toBe(1);
  });
});
