/**
 * The key the adapter relies on to repeat a POST must be the one that goes on the wire, and a
 * key of yours the policy cannot rely on must not cost you the request. Real axios against a
 * loopback server that resets after reading the request.
 */
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { startScriptedServer } from './helpers.js';
import { cleanupsAfterEach, FAST, rpcFailure } from './evidence-kit.js';

const cleanups = cleanupsAfterEach();

describe('Idempotency-Key as sent', () => {
  it("a header of yours set to false (axios: do not send) with idempotencyKeys: a POST goes without a key, and after a reset it is not sent again", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 201 });
    const api = axios.create({ baseURL: server.url });
    const attached = attachPolicy(api, { ...FAST, idempotencyKeys: true, serverDeduplicates: true });
    cleanups.push(() => attached.detach());
    const failure = await rpcFailure(api.post('/transfers', { amount: 1 }, { headers: { 'Idempotency-Key': false as unknown as string } }));
    expect(server.seen.map((r) => r.headers['idempotency-key'])).toEqual([undefined]);
    expect(failure.kind).toBe('unknown-outcome');
    expect(failure.mayHaveExecuted).toBe(true);
  });

  for (const [what, key] of [
    ['with a space (an RFC 8941 sf-string may have one)', 'order 42'],
    ['over 200 characters', 'k'.repeat(250)],
  ] as const) {
    it(`a key of yours ${what} is sent as it is, not refused; the call counts as unkeyed (not repeated after a reset)`, async () => {
      const server = await startScriptedServer();
      cleanups.push(() => server.close());
      const api = axios.create({ baseURL: server.url });
      const attached = attachPolicy(api, { ...FAST, serverDeduplicates: true });
      cleanups.push(() => attached.detach());
      server.script('POST', '/transfers', { kind: 'answer', status: 201, body: { ok: true } });
      const response = await api.post('/transfers', { amount: 1 }, { headers: { 'Idempotency-Key': key } });
      expect(response.status).toBe(201);
      expect(server.seen[0]?.headers['idempotency-key']).toBe(key);
      server.script('POST', '/again', { kind: 'reset' }, { kind: 'answer', status: 201 });
      const failure = await rpcFailure(api.post('/again', { amount: 1 }, { headers: { 'Idempotency-Key': key } }));
      expect(server.count('POST', '/again')).toBe(1);
      expect(failure.mayHaveExecuted).toBe(true);
    });
  }
});

describe('an Idempotency-Key of yours that is not a string', () => {
  it('a number set on the request in an interceptor is sent as its digits and is the call\'s key: not replaced by a generated one, the same on the retry', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 201, body: { ok: true } });
    const api = axios.create({ baseURL: server.url });
    // Set directly on the headers (no `set`, so axios does not turn it into a string): axios sends it as "90210".
    api.interceptors.request.use((config) => {
      (config.headers as unknown as Record<string, unknown>)['Idempotency-Key'] = 90210;
      return config;
    });
    const attached = attachPolicy(api, { ...FAST, idempotencyKeys: true, serverDeduplicates: true });
    cleanups.push(() => attached.detach());
    const response = await api.post('/transfers', { amount: 1 });
    expect(response.status).toBe(201);
    expect(server.seen.map((r) => r.headers['idempotency-key'])).toEqual(['90210', '90210']);
  });
});
