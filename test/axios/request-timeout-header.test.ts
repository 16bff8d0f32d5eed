/**
 * A request's own `X-Hotcold-Timeout-Ms` (DESIGN §1: what is left of its caller's deadline) bounds
 * the call, as a gRPC caller's `deadline` does: the call — attempts, backoffs, hold while
 * reconnecting — ends at the earlier of it and the route's or the policy's `deadlineMs`, and each
 * attempt carries what is left of that. Before, the header was overwritten with the policy's
 * value: `instance.post('/x', body, { headers: { 'X-Hotcold-Timeout-Ms': '200' } })` under
 * `deadlineMs: 30000` went out with ~30 000 ms and waited on a stalled server for 30 s.
 * A value that is no whole number of ms (0..2^31−1) is a ConfigurationError naming
 * `headers.<name>`, and nothing is sent (as a bad axios `timeout`).
 *
 * Real axios and a real loopback server that stalls.
 */
import axios, { type AxiosInstance } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, ConfigurationError, DeadlineExceededException, type AttachPolicyOptions } from 'hotcold/axios';
import { failure, startScriptedServer, type ScriptedServer } from './helpers.js';

const POLICY: AttachPolicyOptions = { retry: { maxAttempts: 1 }, breaker: false, budget: false, timeoutMs: 30_000, deadlineMs: 30_000 };

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

async function setup(options: AttachPolicyOptions = POLICY, create: Parameters<typeof axios.create>[0] = {}): Promise<{ server: ScriptedServer; api: AxiosInstance }> {
  const server = await startScriptedServer();
  cleanups.push(() => server.close());
  const api = axios.create({ baseURL: server.url, ...create });
  const handle = attachPolicy(api, options);
  cleanups.push(() => handle.detach());
  return { server, api };
}

/** The `x-hotcold-timeout-ms` the server saw on its `index`th request, as a number. */
function sentLeft(server: ScriptedServer, index = 0): number {
  return Number(server.seen[index]?.headers['x-hotcold-timeout-ms']);
}

describe("a request's own X-Hotcold-Timeout-Ms", () => {
  it("bounds the policy's deadlineMs 30000: the attempt carries at most 200 ms, and the call ends with the deadline of 200 ms", async () => {
    const { server, api } = await setup();
    server.script('POST', '/x', { kind: 'stall' });
    const error = await failure(api.post('/x', { n: 1 }, { headers: { 'X-Hotcold-Timeout-Ms': '200' } }));
    expect(server.count('POST', '/x')).toBe(1);
    const left = sentLeft(server);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(200);
    expect(error).toBeInstanceOf(DeadlineExceededException);
    expect((error as DeadlineExceededException).message).toContain('deadline of 200 ms');
  });

  it('is read in any case, and as a number', async () => {
    const { server, api } = await setup();
    server.script('POST', '/x', { kind: 'stall' });
    const lower = await failure(api.post('/x', {}, { headers: { 'x-hotcold-timeout-ms': '150' } }));
    expect((lower as Error).message).toContain('deadline of 150 ms');
    const numeric = await failure(api.post('/x', {}, { headers: { 'X-HOTCOLD-TIMEOUT-MS': 120 } }));
    expect((numeric as Error).message).toContain('deadline of 120 ms');
    expect(sentLeft(server, 0)).toBeLessThanOrEqual(150);
    expect(sentLeft(server, 1)).toBeLessThanOrEqual(120);
  });

  it("an instance's default header bounds each of its requests", async () => {
    const { server, api } = await setup(POLICY, { headers: { 'X-Hotcold-Timeout-Ms': '180' } });
    server.script('GET', '/x', { kind: 'stall' });
    const error = await failure(api.get('/x'));
    expect((error as Error).message).toContain('deadline of 180 ms');
    expect(sentLeft(server)).toBeLessThanOrEqual(180);
  });

  it("never loosens: a larger one leaves the policy's (and a route's) deadlineMs", async () => {
    const { server, api } = await setup({ ...POLICY, deadlineMs: 300, routes: { 'POST /tight': { idempotent: false, deadlineMs: 250 } } });
    server.script('GET', '/x', { kind: 'stall' });
    server.script('POST', '/tight', { kind: 'stall' });
    const policy = await failure(api.get('/x', { headers: { 'X-Hotcold-Timeout-Ms': '600000' } }));
    expect((policy as Error).message).toContain('deadline of 300 ms');
    expect(sentLeft(server, 0)).toBeLessThanOrEqual(300);
    const route = await failure(api.post('/tight', {}, { headers: { 'X-Hotcold-Timeout-Ms': '600000' } }));
    expect((route as Error).message).toContain('deadline of 250 ms');
    expect(sentLeft(server, 1)).toBeLessThanOrEqual(250);
  });

  it('0: the time is spent, nothing is sent (DeadlineExceeded, not executed)', async () => {
    const { server, api } = await setup();
    server.script('POST', '/x', { kind: 'answer', status: 200, body: { ok: 1 } });
    const error = await failure(api.post('/x', {}, { headers: { 'X-Hotcold-Timeout-Ms': '0' } }));
    expect(error).toBeInstanceOf(DeadlineExceededException);
    expect((error as DeadlineExceededException).mayHaveExecuted).toBe(false);
    expect(server.count('POST', '/x')).toBe(0);
  });

  it('no whole number of ms is a ConfigurationError naming the header, and nothing is sent', async () => {
    const { server, api } = await setup();
    server.script('POST', '/x', { kind: 'answer', status: 200, body: { ok: 1 } });
    const bad: unknown[] = ['abc', '-1', '1.5', '1e3', ' ', '', '200ms', '2147483648', -1, 1.5, Number.NaN, Infinity];
    for (const value of bad) {
      const error = await failure(api.post('/x', {}, { headers: { 'X-Hotcold-Timeout-Ms': value as string } }));
      expect(error, String(value)).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field, String(value)).toBe('headers.X-Hotcold-Timeout-Ms');
    }
    expect(server.count('POST', '/x')).toBe(0);
  });

  it("set to false (axios: do not send) bounds nothing and is not sent; the policy's header is not either", async () => {
    const { server, api } = await setup();
    server.script('POST', '/x', { kind: 'answer', status: 200, body: { ok: 1 } });
    expect((await api.post('/x', {}, { headers: { 'X-Hotcold-Timeout-Ms': false as never } })).data).toEqual({ ok: 1 });
    expect(server.seen[0]?.headers['x-hotcold-timeout-ms']).toBeUndefined();
  });
});
