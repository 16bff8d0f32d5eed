/**
 * Routes matched by the pattern's regexp (routes.ts): a route that declares `PUT /accounts/:id`
 * non-idempotent must hold for every spelling of a matching URL — trailing slash, query string,
 * fragment, encoded characters, letter case, an absolute URL — and HEAD/OPTIONS routes too. What
 * shows the match: a PUT reset after it was read is sent once (the route) instead of repeated (a
 * PUT is idempotent by method). Real loopback server.
 */
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { startScriptedServer, type ScriptedServer } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(): Promise<{ server: ScriptedServer; request: (method: string, url: string) => Promise<unknown> }> {
  const server = await startScriptedServer();
  cleanups.push(() => server.close());
  const api = axios.create({ baseURL: server.url });
  const handle = attachPolicy(api, {
    retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
    breaker: false,
    budget: false,
    timeoutMs: 5000,
    idempotencyKeys: false,
    routes: { 'PUT /accounts/:id': { idempotent: false }, 'HEAD /probe': { idempotent: false }, 'OPTIONS /probe': { idempotent: false } },
  });
  cleanups.push(() => handle.detach());
  return { server, request: (method, url) => api.request({ method, url, data: method === 'PUT' ? { a: 1 } : undefined }).catch((e: unknown) => e) };
}

describe('route matching', () => {
  it.each([['/accounts/7'], ['/accounts/7/'], ['/accounts/7?x=1'], ['/accounts/7#top'], ['/accounts/a%2Fb'], ['/accounts/%C3%A9'], ['/ACCOUNTS/7'], ['accounts/7']])(
    'PUT %s matches the route: sent once',
    async (url) => {
      const { server, request } = await setup();
      const path = url.replace(/[?#].*$/, '').replace(/^(?!\/)/, '/');
      server.script('PUT', path, { kind: 'reset' });
      await request('PUT', url);
      expect(server.count('PUT', path)).toBe(1);
    },
  );

  it('an absolute URL matches by its path', async () => {
    const { server, request } = await setup();
    server.script('PUT', '/accounts/7', { kind: 'reset' });
    await request('PUT', `${server.url}/accounts/7?y=2`);
    expect(server.count('PUT', '/accounts/7')).toBe(1);
  });

  it('PUT /accounts/7/extra does not match: repeated as the idempotent PUT it is', async () => {
    const { server, request } = await setup();
    server.script('PUT', '/accounts/7/extra', { kind: 'reset' });
    await request('PUT', '/accounts/7/extra');
    expect(server.count('PUT', '/accounts/7/extra')).toBe(3);
  });

  it.each(['HEAD', 'OPTIONS'])('%s routes match', async (method) => {
    const { server, request } = await setup();
    server.script(method, '/probe', { kind: 'reset' });
    await request(method, '/probe');
    expect(server.count(method, '/probe')).toBe(1);
  });
});
