/**
 * `attachPolicy` against a real loopback server that answers, refuses, resets, stalls, 429s and
 * 503s (issue 9 §2): every HTTP outcome is classified as DESIGN §2 says, retried only when that is
 * safe, and 4xx answers reach the caller exactly as axios gives them.
 */
import net from 'node:net';
import axios, { AxiosError, type AxiosInstance } from 'axios';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { attachPolicy, ConnectionFailureException, isRPCException, UnknownOutcomeException, type AttachedPolicy, type AttachPolicyOptions } from 'hotcold/axios';
import { closedPort, NODE, startScriptedServer, failure, type ScriptedServer } from './helpers.js';

const FAST: AttachPolicyOptions = {
  retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
  breaker: false,
  budget: false,
  timeoutMs: 5000,
};

let server: ScriptedServer;
let api: AxiosInstance;
const handles: AttachedPolicy[] = [];

function attach(options: AttachPolicyOptions = {}): AttachedPolicy {
  const handle = attachPolicy(api, { ...FAST, ...options });
  handles.push(handle);
  return handle;
}


/** The RPCException a failure ends with (a single attempt's, or the last cause of an exhausted retry). */
function rpc(error: unknown): { kind: string; mayHaveExecuted: boolean } {
  expect(isRPCException(error), String(error)).toBe(true);
  return error as { kind: string; mayHaveExecuted: boolean };
}

beforeEach(async () => {
  server = await startScriptedServer();
  api = axios.create({ baseURL: server.url });
});
afterEach(async () => {
  for (const handle of handles.splice(0)) await handle.detach();
  await server.close();
});

describe('answers', () => {
  it('a 2xx resolves with axios’s usual response, config and parsed data', async () => {
    attach();
    server.script('GET', '/accounts/A', { kind: 'answer', status: 200, headers: NODE, body: { balance: 5 } });
    const response = await api.get<{ balance: number }>('/accounts/A', { params: { x: 1 } });
    expect(response.status).toBe(200);
    expect(response.data).toEqual({ balance: 5 });
    expect(response.config.url).toBe('/accounts/A');
    expect(server.count('GET', '/accounts/A')).toBe(1);
  });

  it.each([400, 401, 403, 404, 409, 422])('a %i is an answer: rejected as axios would, never retried', async (status) => {
    const { policy } = attach();
    server.script('POST', '/transfers', { kind: 'answer', status, headers: NODE, body: { error: 'NO' } });
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(error).toBeInstanceOf(AxiosError);
    expect((error as AxiosError).response?.status).toBe(status);
    expect((error as AxiosError).response?.data).toEqual({ error: 'NO' });
    expect(server.count('POST', '/transfers')).toBe(1);
    // The backend answered: it is up.
    expect(policy.state.status).not.toBe('reconnecting');
  });

  it('a 4xx resolves when the caller’s validateStatus accepts it', async () => {
    attach();
    server.script('GET', '/missing', { kind: 'answer', status: 404, body: { error: 'NOT_FOUND' } });
    const response = await api.get('/missing', { validateStatus: () => true });
    expect(response.status).toBe(404);
    expect(server.count('GET', '/missing')).toBe(1);
  });
});

describe('not executed: retried for any method', () => {
  it("a node's 503 NOT_ACTIVE, then 201: a POST without a key is retried and succeeds", async () => {
    attach();
    server.script(
      'POST',
      '/transfers',
      { kind: 'answer', status: 503, headers: { ...NODE, 'retry-after': '0' }, body: { error: 'NOT_ACTIVE', status: 'standby', node: 'node-a' } },
      { kind: 'answer', status: 201, headers: NODE, body: { id: 1 } },
    );
    const response = await api.post('/transfers', { amount: 1 });
    expect(response.status).toBe(201);
    expect(server.count('POST', '/transfers')).toBe(2);
  });

  it("a 503 marked X-Hotcold-Not-Forwarded (the balancer's own) is retried for a POST", async () => {
    attach();
    server.script(
      'POST',
      '/transfers',
      { kind: 'answer', status: 503, headers: { 'x-hotcold-not-forwarded': '1' }, body: '<html>no server</html>' },
      { kind: 'answer', status: 201, headers: NODE, body: { id: 1 } },
    );
    expect((await api.post('/transfers', {})).status).toBe(201);
    expect(server.count('POST', '/transfers')).toBe(2);
  });

  it('connection refused: not executed, retried, and the final failure says it never ran', async () => {
    const port = await closedPort();
    api = axios.create({ baseURL: `http://127.0.0.1:${port}` });
    attach({ retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 } });
    const error = rpc(await failure(api.post('/transfers', {})));
    expect(error.mayHaveExecuted).toBe(false);
  });

  it('https to a server that never finishes the TLS handshake: timed out before anything was sent, so a POST is retried and "not executed"', async () => {
    const sockets = new Set<net.Socket>();
    let connections = 0;
    const silent = net.createServer((socket) => {
      connections += 1;
      sockets.add(socket);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      api = axios.create({ baseURL: `https://127.0.0.1:${(silent.address() as net.AddressInfo).port}` });
      attach({ timeoutMs: 300, retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 } });
      const raw = await failure(api.post('/transfers', {}));
      const error = rpc(raw);
      expect(error.mayHaveExecuted, String(raw)).toBe(false);
      expect(connections).toBe(2);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('429 with Retry-After in seconds and as an HTTP-date is back-pressure: retried after it, for a POST', async () => {
    attach();
    const past = new Date(Date.now() - 60_000).toUTCString();
    server.script(
      'POST',
      '/transfers',
      { kind: 'answer', status: 429, headers: { 'retry-after': '0' }, body: {} },
      { kind: 'answer', status: 429, headers: { 'retry-after': past }, body: {} },
      { kind: 'answer', status: 201, headers: NODE, body: { id: 1 } },
    );
    expect((await api.post('/transfers', {})).status).toBe(201);
    expect(server.count('POST', '/transfers')).toBe(3);
  });

  it('a 429 that never ends fails as a ConnectionFailure with backPressure (not executed)', async () => {
    attach({ retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 } });
    server.script('GET', '/busy', { kind: 'answer', status: 429, headers: { 'retry-after': '0' }, body: {} });
    const error = rpc(await failure(api.get('/busy')));
    expect(error.mayHaveExecuted).toBe(false);
  });
});

describe('maybe executed: retried only when repeating is safe', () => {
  it.each([
    ['502 from a proxy', { kind: 'answer', status: 502, body: 'bad gateway' }],
    ['504 from a proxy', { kind: 'answer', status: 504, body: 'gateway timeout' }],
    ['a header-less 503 (an app server’s own)', { kind: 'answer', status: 503, body: 'upstream connect error or disconnect/reset before headers' }],
    ["a node's 500 COMMIT_UNKNOWN", { kind: 'answer', status: 500, headers: NODE, body: { error: 'COMMIT_UNKNOWN' } }],
    ['a reset after the request was read', { kind: 'reset' }],
  ] as const)('%s: a POST without a key is sent once and fails as "maybe"', async (_what, behaviour) => {
    attach();
    server.script('POST', '/transfers', behaviour);
    const error = await failure(api.post('/transfers', { amount: 1 }));
    expect(rpc(error).mayHaveExecuted).toBe(true);
    expect(server.count('POST', '/transfers')).toBe(1);
  });

  it.each(['GET', 'PUT', 'DELETE'] as const)('%s (idempotent, RFC 9110) is retried after a reset and a 502', async (method) => {
    attach();
    server.script(method, '/items/1', { kind: 'reset' }, { kind: 'answer', status: 502, body: '' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    const response = await api.request({ method, url: '/items/1', data: method === 'GET' ? undefined : { v: 1 } });
    expect(response.status).toBe(200);
    expect(server.count(method, '/items/1')).toBe(3);
  });

  it('a stalled POST times out as "maybe" (it was written) and is not repeated', async () => {
    attach({ timeoutMs: 200 });
    server.script('POST', '/transfers', { kind: 'stall' });
    const error = rpc(await failure(api.post('/transfers', {})));
    expect(error.mayHaveExecuted).toBe(true);
    expect(server.count('POST', '/transfers')).toBe(1);
  });

  it("axios's own `timeout` is the per-attempt timeout", async () => {
    attach({ timeoutMs: 60_000 });
    server.script('GET', '/slow', { kind: 'stall' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    const response = await api.get('/slow', { timeout: 200 });
    expect(response.status).toBe(200);
    expect(server.count('GET', '/slow')).toBe(2);
  });

  it('a route declared idempotent is retried after a reset, whatever its method', async () => {
    attach({ routes: { 'POST /things/:id/touch': { idempotent: true } } });
    server.script('POST', '/things/9/touch', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: {} });
    expect((await api.post('/things/9/touch', {})).status).toBe(200);
    expect(server.count('POST', '/things/9/touch')).toBe(2);
  });

  it('a route declared not idempotent is not retried after a reset, even as PUT', async () => {
    attach({ routes: { 'PUT /counters/:id': { idempotent: false } } });
    server.script('PUT', '/counters/1', { kind: 'reset' }, { kind: 'answer', status: 200, body: {} });
    expect(rpc(await failure(api.put('/counters/1', {}))).mayHaveExecuted).toBe(true);
    expect(server.count('PUT', '/counters/1')).toBe(1);
  });
});

describe('Idempotency-Key (IETF httpapi draft)', () => {
  it('idempotencyKeys: true adds one key per logical POST, the same on every attempt; GETs get none', async () => {
    attach({ idempotencyKeys: true });
    server.script(
      'POST',
      '/transfers',
      { kind: 'answer', status: 503, headers: { ...NODE, 'retry-after': '0' }, body: { error: 'NOT_ACTIVE' } },
      { kind: 'answer', status: 201, headers: NODE, body: {} },
    );
    await api.post('/transfers', {});
    await api.post('/transfers', {});
    await api.get('/accounts/A');
    const posts = server.seen.filter((r) => r.method === 'POST');
    expect(posts).toHaveLength(3);
    const keys = posts.map((r) => r.headers['idempotency-key']);
    expect(keys[0]).toBeTypeOf('string');
    expect(keys[1]).toBe(keys[0]);
    expect(keys[2]).not.toBe(keys[0]);
    expect(posts.map((r) => r.headers['x-hotcold-attempt'])).toEqual(['1', '2', '1']);
    expect(server.seen.find((r) => r.method === 'GET')?.headers['idempotency-key']).toBeUndefined();
  });

  it('a keyed POST to a server that deduplicates (serverDeduplicates) is repeated after a reset, with its own key', async () => {
    attach({ serverDeduplicates: true });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 201, headers: NODE, body: { id: 1 } });
    const response = await api.post('/transfers', {}, { headers: { 'Idempotency-Key': 'k-123' } });
    expect(response.status).toBe(201);
    const keys = server.seen.map((r) => r.headers['idempotency-key']);
    expect(keys).toEqual(['k-123', 'k-123']);
  });

  // The first request of a fresh client cut by a planned switchover: no answer has said yet
  // whether the deployment deduplicates, so the health endpoint is asked (it names the node, its
  // term and X-Hotcold-Dedup) instead of giving up.
  it.each([
    ['repeated once where /health proves dedup', { ...NODE, 'x-hotcold-dedup': '1' }, 2],
    ['not repeated where /health does not advertise it', NODE, 1],
  ] as const)('a keyed POST that may have run before any answer: %s', async (_what, healthHeaders, posts) => {
    attach({ healthPath: '/health' });
    server.script('GET', '/health', { kind: 'answer', status: 200, headers: healthHeaders, body: { status: 'active', node: 'node-a', epoch: 7 } });
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 201, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: { id: 1 } });
    const outcome = await api.post('/transfers', {}, { headers: { 'Idempotency-Key': 'k-first' } }).catch((e: unknown) => e);
    if (posts === 2) expect((outcome as { status: number }).status).toBe(201);
    else expect(rpc(outcome).mayHaveExecuted).toBe(true);
    expect(server.count('POST', '/transfers')).toBe(posts);
  });

  it('a POST WITHOUT a key is not repeated even where the server deduplicates (serverDeduplicates, or advertised)', async () => {
    attach({ serverDeduplicates: true });
    server.script('GET', '/ping', { kind: 'answer', status: 200, headers: { ...NODE, 'x-hotcold-dedup': '1' }, body: {} });
    await api.get('/ping');
    server.script('POST', '/transfers', { kind: 'reset' }, { kind: 'answer', status: 201, headers: NODE, body: { id: 1 } });
    const error = await failure(api.post('/transfers', {}));
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect(rpc(error).mayHaveExecuted).toBe(true);
    expect(server.count('POST', '/transfers')).toBe(1);
  });

  it('an unkeyed POST that may have run fails at once (idempotencyKey: false): no retry is scheduled, no backoff is waited', async () => {
    // A long backoff: a retry scheduled before the adapter refuses to send it would show as a
    // 'retry' event (and cost the caller that backoff).
    const { policy } = attach({ serverDeduplicates: true, retry: { maxAttempts: 3, minDelayMs: 2000, maxDelayMs: 2000, jitter: 'none' } });
    const retries: unknown[] = [];
    const sub = policy.events$.subscribe((e) => e.type === 'retry' && retries.push(e));
    server.script('PATCH', '/transfers/1', { kind: 'reset' }, { kind: 'answer', status: 200, headers: NODE, body: {} });
    const error = await failure(api.patch('/transfers/1', {}));
    sub.unsubscribe();
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect(rpc(error).mayHaveExecuted).toBe(true);
    expect(retries).toEqual([]);
    expect(server.count('PATCH', '/transfers/1')).toBe(1);
  });

  it('sends what is left of the deadline as X-Hotcold-Timeout-Ms', async () => {
    attach({ timeoutMs: 1000, deadlineMs: 3000 });
    await api.get('/ping');
    const left = Number(server.seen[0]?.headers['x-hotcold-timeout-ms']);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(3000);
  });
});

describe('the instance', () => {
  it("keeps the user's interceptors, headers and defaults; detach() restores the adapter exactly", async () => {
    const before = api.defaults.adapter;
    api.defaults.headers.common['X-Team'] = 'ledger';
    api.interceptors.request.use((config) => {
      config.headers.set('X-Trace', 'abc');
      return config;
    });
    let responses = 0;
    api.interceptors.response.use((response) => {
      responses += 1;
      return response;
    });
    const handle = attach();
    expect(api.defaults.adapter).not.toBe(before);
    await api.get('/ping');
    expect(server.seen[0]?.headers['x-team']).toBe('ledger');
    expect(server.seen[0]?.headers['x-trace']).toBe('abc');
    expect(responses).toBe(1);
    await handle.detach();
    expect(api.defaults.adapter).toBe(before);
    await handle.detach();
    // Detached: a 503 NOT_ACTIVE is axios's plain error again.
    server.script('GET', '/ping', { kind: 'answer', status: 503, headers: NODE, body: { error: 'NOT_ACTIVE' } });
    expect(await failure(api.get('/ping'))).toBeInstanceOf(AxiosError);
  });

  it('refuses a second attach and bad options with a ConfigurationError naming the field', () => {
    attach();
    expect(() => attachPolicy(api)).toThrow(/instance/);
    const other = axios.create();
    expect(() => attachPolicy(other, { routes: { '/transfers': {} } })).toThrow(/routes\['\/transfers'\]/);
    expect(() => attachPolicy(other, { routes: { 'POST /a/:': {} } })).toThrow(/routes/);
    expect(() => attachPolicy(other, { routes: { 'POST /a': { idempotent: 'yes' as never } } })).toThrow(/idempotent/);
    expect(() => attachPolicy(other, { healthPath: 'health' })).toThrow(/healthPath/);
    expect(() => attachPolicy(other, { idempotencyKeys: 1 as never })).toThrow(/idempotencyKeys/);
    expect(() => attachPolicy({} as AxiosInstance)).toThrow(/instance/);
    // Nothing was attached by the refused calls.
    expect(() => attachPolicy(other).detach()).not.toThrow();
  });

  it('the health probe answers for the backend while reconnecting (healthPath)', async () => {
    const { policy } = attach({ healthPath: '/health', retry: { maxAttempts: 20, minDelayMs: 5, maxDelayMs: 20 }, reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 500 } });
    server.script('GET', '/health', { kind: 'answer', status: 503, headers: NODE, body: { status: 'standby', node: 'node-a' } }, { kind: 'answer', status: 200, headers: NODE, body: { status: 'active', node: 'node-a', epoch: 7 } });
    server.script('GET', '/data', { kind: 'answer', status: 503, headers: { 'x-hotcold-not-forwarded': '1' }, body: '' }, { kind: 'answer', status: 200, headers: NODE, body: { ok: 1 } });
    const response = await api.get('/data');
    expect(response.status).toBe(200);
    expect(policy.closed).toBe(false);
  });
});

describe('classification failures are typed', () => {
  it('ConnectionFailureException and UnknownOutcomeException are the classes thrown', async () => {
    attach({ retry: { maxAttempts: 1 } });
    server.script('POST', '/a', { kind: 'answer', status: 503, headers: { ...NODE, 'retry-after': '0' }, body: { error: 'NOT_ACTIVE' } });
    server.script('POST', '/b', { kind: 'answer', status: 502, body: '' });
    const a = await failure(api.post('/a', {}));
    const b = await failure(api.post('/b', {}));
    const last = (e: unknown): unknown => ((e as { causes?: unknown[] }).causes?.at(-1) ?? e);
    expect(last(a)).toBeInstanceOf(ConnectionFailureException);
    expect(last(b)).toBeInstanceOf(UnknownOutcomeException);
  });
});

describe('a cancellation during an outage', () => {
  /** A POST held in an outage (every attempt refused: never sent), cancelled once a probe has failed. */
  async function cancelledInOutage(cancel: 'signal' | 'cancelToken'): Promise<unknown> {
    const refused = axios.create({ baseURL: `http://127.0.0.1:${await closedPort()}` });
    const handle = attachPolicy(refused, {
      ...FAST,
      healthPath: '/health',
      maxReconnectAttempts: Infinity,
      reconnect: { minDelayMs: 20, maxDelayMs: 50, probeTimeoutMs: 500 },
    });
    handles.push(handle);
    const probed = new Promise<void>((resolve) => {
      const sub = handle.policy.events$.subscribe((e) => {
        if (e.type === 'probe') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    const controller = new AbortController();
    const source = axios.CancelToken.source();
    const request = refused.post('/pay', { amount: 1 }, cancel === 'signal' ? { signal: controller.signal } : { cancelToken: source.token });
    await probed;
    if (cancel === 'signal') controller.abort();
    else source.cancel('the caller gave up');
    return failure(request);
  }

  it.each(['signal', 'cancelToken'] as const)('cancelled by its %s: CallAborted, mayHaveExecuted false (no attempt was ever sent)', async (cancel) => {
    const error = rpc(await cancelledInOutage(cancel));
    expect(error.kind).toBe('call-aborted');
    expect(error.mayHaveExecuted).toBe(false);
    // Still a cancel in axios's sense, for callers that check axios.isCancel.
    expect(axios.isCancel(error)).toBe(true);
  });

  it.each(['signal', 'cancelToken'] as const)('a POST the server has (stalled) cancelled by its %s: CallAborted, mayHaveExecuted true', async (cancel) => {
    attach();
    server.script('POST', '/pay', { kind: 'stall' });
    const controller = new AbortController();
    const source = axios.CancelToken.source();
    const request = api.post('/pay', { amount: 1 }, cancel === 'signal' ? { signal: controller.signal } : { cancelToken: source.token });
    await expect.poll(() => server.count('POST', '/pay')).toBe(1);
    if (cancel === 'signal') controller.abort();
    else source.cancel('the caller gave up');
    const error = rpc(await failure(request));
    expect(error.kind).toBe('call-aborted');
    expect(error.mayHaveExecuted).toBe(true);
  });
});
