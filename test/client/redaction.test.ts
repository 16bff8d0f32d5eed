/**
 * With credentials configured every way the client accepts them, no error (message, stack,
 * toJSON, util.inspect) and no event ever shows a credential or a request body.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient, isRPCException, type ClientEvent, type HotcoldClient } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import { FAST_RECONNECT, until } from './helpers.js';

const PASSWORD = 'pw-Sekrit-4711';
const BEARER = 'tok-Bearer-0815-xyz';
const API_KEY = 'key-Header-2342';
const URL_PASSWORD = 'url-Pass-9999';
const BODY_SECRET = 'pin-in-body-1234';
const SECRETS = [
  PASSWORD,
  BEARER,
  API_KEY,
  URL_PASSWORD,
  BODY_SECRET,
  Buffer.from(`alice:${PASSWORD}`).toString('base64'),
  Buffer.from(`bob:${URL_PASSWORD}`).toString('base64'),
];

let server: FaultServer;
const errors: unknown[] = [];
const events: ClientEvent[] = [];

function expose(value: unknown): string {
  if (isRPCException(value)) {
    const e = value;
    return [e.message, e.stack ?? '', JSON.stringify(e), inspect(e, { depth: 10 }), String(e)].join('\n');
  }
  return `${inspect(value, { depth: 10 })}\n${JSON.stringify(value)}`;
}

async function provoke(client: HotcoldClient, mode: Parameters<FaultServer['enqueue']>[0], options: { deadlineMs?: number; signal?: AbortSignal } = {}): Promise<void> {
  server.clearQueue();
  server.enqueue(mode);
  await client.call('transfer', { pin: BODY_SECRET }, options).catch((e: unknown) => errors.push(e));
  server.clearQueue();
}

beforeAll(async () => {
  server = await startFaultServer();
  const basic = createClient({
    url: server.url,
    auth: { username: 'alice', password: PASSWORD },
    headers: { 'X-Api-Key': API_KEY },
    retry: { maxAttempts: 2, minDelayMs: 1, maxDelayMs: 2 },
    reconnect: FAST_RECONNECT,
    breaker: false,
  });
  const breaking = createClient({
    url: server.url.replace('http://', `http://bob:${URL_PASSWORD}@`),
    retry: { maxAttempts: 1 },
    breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
  });
  const bearer = createClient({
    url: server.url,
    auth: { bearer: BEARER },
    retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 2 },
    budget: { ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 },
    breaker: false,
    methods: { transfer: { idempotent: true } },
    reconnect: FAST_RECONNECT,
  });
  for (const c of [basic, bearer, breaking]) c.events$.subscribe((e) => events.push(e));

  for (const c of [bearer, basic]) {
    for (const mode of ['reset-after-request', '502', 'garbage', 'not-jsonrpc', 'unauthorized', 'forbidden', 'rpc-error'] as const) {
      await provoke(c, mode);
    }
    await provoke(c, { mode: 'rpc-error', data: { echo: 'nothing secret' } });
  }
  await provoke(bearer, 'stall', { deadlineMs: 100 }); // deadline
  await provoke(bearer, 'stall', { signal: AbortSignal.timeout(50) }); // aborted
  // The budget ran dry above: a RetriesExhausted('budget'). (One 502 with /health fine: an
  // outage that its first probe ends does not pace the retry, so the retry pays the budget.
  // A 502 forever would make /health 502 too: an outage, the call held until its deadline.)
  await provoke(bearer, '502');
  await server.setMode('ok');
  // One failure opens this breaker: then CircuitOpen.
  await provoke(breaking, '502');
  await provoke(breaking, 'ok');
  // An outage: connection failure, a held call and a pending-limit refusal, then close.
  server.setHealth('standby');
  await server.setMode('balancer-503');
  const held = bearer.call('transfer', { pin: BODY_SECRET }).catch((e: unknown) => e);
  await until(() => bearer.state.status === 'reconnecting', 3000, `reconnecting (is ${JSON.stringify(bearer.state)} ${JSON.stringify(server.requests.slice(-3).map((r) => r.mode))})`);
  errors.push(await bearer.call('transfer', { pin: BODY_SECRET }, { deadlineMs: 50 }).catch((e: unknown) => e));
  await server.refuse();
  await bearer.close();
  await basic.close();
  await breaking.close();
  errors.push(await held);
  errors.push(await bearer.call('transfer', { pin: BODY_SECRET }).catch((e: unknown) => e));
});

afterAll(async () => {
  await server.close();
});

describe('redaction', () => {
  it('provoked every kind of error', () => {
    const kinds = new Set(errors.map((e) => (isRPCException(e) ? e.kind : 'not-an-rpc-exception')));
    for (const kind of ['unknown-outcome', 'protocol', 'authentication', 'remote-call', 'deadline-exceeded', 'call-aborted', 'retries-exhausted', 'circuit-open', 'client-closed'] as const) {
      expect(kinds, kind).toContain(kind);
    }
    expect(kinds).not.toContain('not-an-rpc-exception');
  });

  it('the server did receive the credentials (the test is not vacuous)', () => {
    const auth = server.requests.map((r) => r.authorization ?? '');
    expect(auth.some((a) => a.startsWith('Basic '))).toBe(true);
    expect(auth.some((a) => a === `Bearer ${BEARER}`)).toBe(true);
    expect(auth.some((a) => a.includes(Buffer.from(`bob:${URL_PASSWORD}`).toString('base64')))).toBe(true);
    expect(server.requests.some((r) => r.headers['x-api-key'] === API_KEY)).toBe(true);
  });

  it('no error shows a credential or the request body', () => {
    for (const error of errors) {
      const text = expose(error);
      for (const secret of SECRETS) expect(text).not.toContain(secret);
    }
  });

  it('no event shows a credential or the request body', () => {
    expect(events.length).toBeGreaterThan(10);
    const text = events.map((e) => `${JSON.stringify(e)}\n${inspect(e, { depth: 10 })}`).join('\n');
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  });
});
