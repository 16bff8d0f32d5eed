/**
 * An axios instance whose defaults carry an `Idempotency-Key` (`axios.create({ headers: {
 * 'Idempotency-Key': … } })`, or in `defaults.headers.common` / `.post`) sends that one key on
 * every request. attachPolicy took it as the caller's own key: with `idempotencyKeys: true` no
 * request got a key of its own, and a deduplicating server would answer every later POST with
 * the first one's stored result, without running it. The key is hotcold's per-call header (DESIGN §1,
 * CLIENT_SET_HEADERS): a fixed one is refused at attach time with a ConfigurationError naming the
 * default; a key set on one request is still that request's own.
 */
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, ConfigurationError } from 'hotcold/axios';
import { startScriptedServer } from './helpers.js';

const POLICY = { retry: { maxAttempts: 1 }, breaker: false, budget: false, idempotencyKeys: true } as const;

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

function refusal(make: () => unknown): ConfigurationError | undefined {
  try {
    const handle = make() as { detach?: () => Promise<void> };
    if (typeof handle.detach === 'function') cleanups.push(handle.detach);
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  return undefined;
}

describe('a fixed Idempotency-Key in the instance defaults', () => {
  it.each([
    ['create({ headers })', () => axios.create({ headers: { 'Idempotency-Key': 'fixed-1' } }), 'defaults.headers.Idempotency-Key'],
    ['defaults.headers.common', () => {
      const api = axios.create();
      api.defaults.headers.common['idempotency-key'] = 'fixed-2';
      return api;
    }, 'defaults.headers.common.idempotency-key'],
    ['defaults.headers.post', () => {
      const api = axios.create();
      api.defaults.headers.post['IDEMPOTENCY-KEY'] = 'fixed-3';
      return api;
    }, 'defaults.headers.post.IDEMPOTENCY-KEY'],
  ])('%s is refused at attach time, naming it', (_label, make, field) => {
    const error = refusal(() => attachPolicy(make(), POLICY));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.field).toBe(field);
    expect(error?.message).not.toContain('fixed-');
  });

  it("a request's own key is still its own, and other requests get keys of their own", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('POST', '/transfers', { kind: 'answer', status: 201, body: { ok: 1 } });
    const api = axios.create({ baseURL: server.url });
    const handle = attachPolicy(api, POLICY);
    cleanups.push(() => handle.detach());
    await api.post('/transfers', { n: 1 }, { headers: { 'Idempotency-Key': 'mine-1' } });
    await api.post('/transfers', { n: 2 });
    await api.post('/transfers', { n: 3 });
    const keys = server.seen.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBe('mine-1');
    expect(keys[1]).toMatch(/^\S+$/);
    expect(keys[2]).toMatch(/^\S+$/);
    expect(keys[1]).not.toBe(keys[2]);
  });
});
