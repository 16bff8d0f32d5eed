/**
 * axios's own `timeout` (of the request, or the instance's default) is the per-attempt timeout
 * when no route sets one. It is read as axios reads it: a number of ms, 0 (or unset) for none,
 * and a string of digits as that number (axios parses it). Before, a string was ignored (the
 * policy's timeoutMs applied: `timeout: '300'` waited 5 s), and NaN, a negative or any other
 * non-time silently became the policy's timeoutMs too (axios itself crashes the process on a
 * negative one); they are a ConfigurationError naming `timeout` now, and nothing is sent.
 */
import axios, { type AxiosInstance } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, ConfigurationError, type AttachPolicyOptions } from 'hotcold/axios';
import { startScriptedServer, failure, type ScriptedServer } from './helpers.js';

const POLICY: AttachPolicyOptions = { retry: { maxAttempts: 1 }, breaker: false, budget: false, timeoutMs: 5000 };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(create: Parameters<typeof axios.create>[0] = {}): Promise<{ server: ScriptedServer; api: AxiosInstance }> {
  const server = await startScriptedServer();
  cleanups.push(() => server.close());
  const api = axios.create({ baseURL: server.url, ...create });
  const handle = attachPolicy(api, POLICY);
  cleanups.push(() => handle.detach());
  return { server, api };
}


/** The attempt timeout a timed-out request ended with, from its cause ("attempt timed out after N ms"). */
function timedOutAfter(error: unknown): string | undefined {
  const cause = (error as { cause?: { message?: unknown } }).cause;
  return typeof cause?.message === 'string' ? /after (\d+) ms/.exec(cause.message)?.[1] : undefined;
}

describe("axios's timeout as the attempt timeout", () => {
  it("a string of digits is the number axios reads it as (the request's and the instance's)", async () => {
    const { server, api } = await setup();
    server.script('GET', '/slow', { kind: 'stall' });
    expect(timedOutAfter(await failure(api.get('/slow', { timeout: '300' as never })))).toBe('300');
    const instance = await setup({ timeout: '200' as never });
    instance.server.script('GET', '/slow', { kind: 'stall' });
    expect(timedOutAfter(await failure(instance.api.get('/slow')))).toBe('200');
  });

  it('a number as given; 0 (none, to axios) leaves the policy its timeoutMs', async () => {
    const { server, api } = await setup();
    server.script('GET', '/slow', { kind: 'stall' });
    expect(timedOutAfter(await failure(api.get('/slow', { timeout: 250 })))).toBe('250');
    server.script('GET', '/ok', { kind: 'answer', status: 200, body: { ok: 1 } });
    for (const timeout of [0, '0', undefined, null]) expect((await api.get('/ok', { timeout: timeout as never })).data).toEqual({ ok: 1 });
  });

  it('NaN, a negative, ±Infinity, any other string is a ConfigurationError naming timeout, and nothing is sent', async () => {
    const { server, api } = await setup();
    server.script('GET', '/ok', { kind: 'answer', status: 200, body: { ok: 1 } });
    const bad: Record<string, unknown> = { NaN: Number.NaN, '-1': -1, '-Infinity': -Infinity, Infinity, "'abc'": 'abc', "'300ms'": '300ms', "'1e3'": '1e3', "' '": ' ', '{}': {} };
    for (const [label, timeout] of Object.entries(bad)) {
      const error = await failure(api.get('/ok', { timeout: timeout as never }));
      expect(error, label).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field, label).toBe('timeout');
    }
    expect(server.count('GET', '/ok')).toBe(0);
  });
});
