/**
 * One case per row of the classification table (src/transport/classify.ts), each against the real
 * fault server: the class, `mayHaveExecuted`, and — through the server's record — that "not
 * executed" really was not executed.
 */
import http from 'node:http';
import net from 'node:net';
import axios from 'axios';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  AuthenticationException,
  CallAbortedException,
  ConnectionFailureException,
  ProtocolException,
  RemoteCallException,
  UnknownOutcomeException,
} from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import { createAxiosTransport, type AxiosTransport } from '../../src/transport/index.js';
import { attempt, expectTruthful, recordOf } from './support.js';

let server: FaultServer;
let transport: AxiosTransport;

beforeAll(async () => {
  server = await startFaultServer({ node: 'node-a', epoch: 12 });
});
afterAll(async () => {
  await server.close();
});
beforeEach(async () => {
  await server.setMode('ok');
  server.clearQueue();
  server.setDedup(false);
  // A fresh transport per case: no keep-alive socket carries one case's state into the next.
  transport = createAxiosTransport({ maxResponseBytes: 64 * 1024 });
});
afterEach(async () => {
  await transport.close();
});

describe('successful answers', () => {
  it('returns the result with the node identity and sends the contract headers', async () => {
    const out = await attempt(transport, server, { attempt: 3 });
    expect(out.response).toEqual({
      result: { method: 'transfer', params: out.record?.params },
      status: 200,
      node: 'node-a',
      epoch: 12,
      dedup: false,
    });
    expect(out.record?.attempt).toBe(3);
    expect(out.record?.headers['content-type']).toBe('application/json');
    expect(out.record?.idempotencyKey).toMatch(/^key-/);
    expect(out.record?.executed).toBe(true);
  });

  it('reports X-Hotcold-Dedup', async () => {
    server.setDedup(true);
    const out = await attempt(transport, server);
    expect(out.response?.dedup).toBe(true);
  });

  it('reuses one keep-alive connection for sequential calls', async () => {
    const connections = new Set<number>();
    for (let i = 0; i < 5; i++) connections.add((await attempt(transport, server)).record?.connection ?? -1);
    expect(connections.size).toBe(1);
  });
});

describe('not executed: ConnectionFailureException', () => {
  it('connection refused', async () => {
    await server.refuse();
    try {
      const out = await attempt(transport, server);
      expect(out.error).toBeInstanceOf(ConnectionFailureException);
      expect(out.error?.mayHaveExecuted).toBe(false);
      expect(out.error?.message).toContain('ECONNREFUSED');
      expect(out.record).toBeUndefined();
    } finally {
      await server.resume();
    }
  });

  it('balancer 503 marked X-Hotcold-Not-Forwarded, with its Retry-After', async () => {
    server.enqueue({ mode: 'balancer-503', retryAfter: '2' });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ConnectionFailureException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect(out.error?.node).toBeUndefined();
    expect((out.error as ConnectionFailureException).retryAfterMs).toBe(2000);
    expect(out.record?.executed).toBe(false);
    expectTruthful(out);
  });

  it('node 503 NOT_ACTIVE with node headers and Retry-After', async () => {
    server.enqueue({ mode: 'not-active', retryAfter: '3' });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ConnectionFailureException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect(out.error?.node).toBe('node-a');
    expect(out.error?.epoch).toBe(12);
    expect((out.error as ConnectionFailureException).retryAfterMs).toBe(3000);
    expectTruthful(out);
  });

  it.each([false, true])('429 (node headers: %s) is back-pressure: refused, with its Retry-After', async (nodeHeaders) => {
    server.enqueue({ mode: 'raw', status: 429, nodeHeaders, body: 'slow down', headers: { 'retry-after': '1' } });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ConnectionFailureException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect((out.error as ConnectionFailureException).backPressure).toBe(true);
    expect((out.error as ConnectionFailureException).retryAfterMs).toBe(1000);
  });

  it.each(['NOT_EXECUTED', 'EXPIRED'])("a node's own 503 %s (rolled back / time spent): not executed", async (error) => {
    server.enqueue({ mode: 'raw', status: 503, body: JSON.stringify({ error, node: 'node-a' }), headers: { 'retry-after': '0' } });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ConnectionFailureException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect((out.error as ConnectionFailureException).backPressure).toBe(false);
    expect(out.error?.node).toBe('node-a');
  });

  it('sends X-Hotcold-Timeout-Ms: what is left of the call deadline, else the attempt timeout', async () => {
    const a = await attempt(transport, server, { timeoutMs: 4000, deadlineLeftMs: 2500.7 });
    expect(a.record?.headers['x-hotcold-timeout-ms']).toBe('2500');
    const b = await attempt(transport, server, { timeoutMs: 4000 });
    expect(b.record?.headers['x-hotcold-timeout-ms']).toBe('4000');
    // A deadline beyond 2^31−1 ms is sent as that ceiling, the largest value a node accepts.
    const c = await attempt(transport, server, { timeoutMs: 4000, deadlineLeftMs: 3e9 });
    expect(c.record?.headers['x-hotcold-timeout-ms']).toBe('2147483647');
  });

  it('TLS handshake failure (https to a plain HTTP port)', async () => {
    const out = await attempt(transport, server, { baseUrl: server.url.replace('http:', 'https:') });
    expect(out.error).toBeInstanceOf(ConnectionFailureException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect(out.record).toBeUndefined();
  });

  it('timeout during a TLS handshake that never completes: never sent', async () => {
    // A TCP listener that accepts and never answers the ClientHello.
    const held = new Set<net.Socket>();
    const silent = net.createServer((socket) => {
      held.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
    const port = (silent.address() as net.AddressInfo).port;
    try {
      const out = await attempt(transport, server, { baseUrl: `https://127.0.0.1:${port}`, timeoutMs: 200 });
      expect(held.size).toBe(1);
      expect(out.error).toBeInstanceOf(ConnectionFailureException);
      expect(out.error?.mayHaveExecuted).toBe(false);
      expect(out.error?.message).toContain('timed out');
    } finally {
      for (const socket of held) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('timeout while waiting for a free socket: never sent', async () => {
    // A caller's agent allowing one socket, held by a stalled call: the next request queues in the
    // agent and times out without ever being written.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    const own = createAxiosTransport({ axios: axios.create({ httpAgent: agent }) });
    try {
      server.enqueue('stall');
      const holder = attempt(own, server, { timeoutMs: 1500 });
      await server.nextRequest();
      const out = await attempt(own, server, { timeoutMs: 200 });
      expect(out.error).toBeInstanceOf(ConnectionFailureException);
      expect(out.error?.mayHaveExecuted).toBe(false);
      expect(out.error?.message).toContain('before the request was sent');
      await holder;
      await new Promise((r) => setTimeout(r, 50));
      // Even once the socket came free, the timed-out request was never sent.
      expect(recordOf(server, out.idempotencyKey)).toBeUndefined();
    } finally {
      await own.close();
      agent.destroy();
    }
  });

  it('a timeout of zero sends nothing', async () => {
    const out = await attempt(transport, server, { timeoutMs: 0 });
    expect(out.error).toBeInstanceOf(ConnectionFailureException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect(out.record).toBeUndefined();
  });
});

describe('reset on accept', () => {
  it('is "not executed" only when the request had not been written, and never ran', async () => {
    // Whether the client finished writing before the reset arrived is a race on loopback; both
    // answers are truthful, and the class must match what the socket reported.
    for (let i = 0; i < 3; i++) {
      server.enqueue('reset-on-accept');
      const out = await attempt(transport, server);
      const kind = out.error?.kind;
      expect(['connection-failure', 'unknown-outcome']).toContain(kind);
      expect(out.error?.mayHaveExecuted).toBe(kind === 'unknown-outcome');
      expect(server.requests.at(-1)?.mode).toBe('reset-on-accept');
      expect(server.requests.at(-1)?.executed).toBe(false);
      expectTruthful(out);
    }
  });
});

describe('maybe executed: UnknownOutcomeException', () => {
  it('reset after the request was read', async () => {
    server.enqueue('reset-after-request');
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.mayHaveExecuted).toBe(true);
    expect(out.record?.executed).toBe(true);
  });

  it('reset on a reused keep-alive socket after the request was written', async () => {
    await attempt(transport, server);
    server.enqueue({ mode: 'reset-after-request', executed: false });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.mayHaveExecuted).toBe(true);
  });

  it.each(['502', '504'] as const)('balancer %s', async (status) => {
    server.enqueue(status, { mode: status, executed: true });
    for (const executed of [false, true]) {
      const out = await attempt(transport, server);
      expect(out.error).toBeInstanceOf(UnknownOutcomeException);
      expect(out.error?.mayHaveExecuted).toBe(true);
      expect(out.error?.message).toContain(status);
      expect(out.record?.executed).toBe(executed);
    }
  });

  it('stall: the attempt timeout ends it', async () => {
    server.enqueue('stall');
    const out = await attempt(transport, server, { timeoutMs: 250 });
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.mayHaveExecuted).toBe(true);
    // Ended by the timeout (its message says so; a stall ends no other way), never before it.
    // How soon after it is a speed claim.
    expect(out.error?.message).toContain('timed out after 250 ms');
    expect(out.elapsedMs).toBeGreaterThanOrEqual(240);
  });

  it('headers then silence: ends within the attempt timeout, with the node identity', async () => {
    server.enqueue('headers-then-silence');
    const out = await attempt(transport, server, { timeoutMs: 250 });
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.node).toBe('node-a');
    // Ended by the attempt timeout (the silence ends no other way); how soon is a speed claim.
    expect(out.error?.message).toContain('timed out after 250 ms');
  });

  it('trickle: bounded by the total timeout, not reset by each byte', async () => {
    // About 80 bytes at one per 250 ms would take 20 s; an idle timeout would never fire, and the
    // answer would come complete. Failing on the 300 ms timeout, before even half of it could
    // have arrived, is the evidence; how soon after 300 ms is a speed claim.
    const BYTE_MS = 250;
    server.enqueue({ mode: 'trickle', intervalMs: BYTE_MS });
    const out = await attempt(transport, server, { timeoutMs: 300 });
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.message).toContain('timed out after 300 ms');
    expect(out.elapsedMs).toBeLessThan(40 * BYTE_MS);
  });

  it('500 without a JSON-RPC body', async () => {
    server.enqueue({ mode: 'raw', status: 500, body: 'Internal Server Error' });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.node).toBe('node-a');
  });

  it('503 with node headers that is not NOT_ACTIVE/NOT_EXECUTED/EXPIRED', async () => {
    server.enqueue({ mode: 'raw', status: 503, body: '{"error":"OVERLOADED"}' });
    expect((await attempt(transport, server)).error).toBeInstanceOf(UnknownOutcomeException);
  });

  it("a node's 500 COMMIT_UNKNOWN: the commit's fate is unknown", async () => {
    server.enqueue({ mode: 'raw', status: 500, body: '{"error":"COMMIT_UNKNOWN"}' });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.mayHaveExecuted).toBe(true);
    expect(out.error?.message).toMatch(/unknown/);
  });

  // issue 8 §1: Envoy/Istio forward the call, the node commits, its connection is cut, and the
  // proxy answers a header-less 503 of its own. That is no evidence of "not executed".
  it("a proxy's header-less 503 after it forwarded the call (Envoy's reset 503)", async () => {
    server.enqueue('proxy-503');
    const out = await attempt(transport, server);
    expect(out.record?.executed).toBe(true);
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.mayHaveExecuted).toBe(true);
  });

  it.each([
    ['an app server', 'text/html', 'Service Temporarily Unavailable'],
    ['a JSON API', 'application/json', '{"error":"NOT_ACTIVE"}'],
  ])("any header-less, unmarked 503 (%s's own) is 'maybe'", async (_who, type, body) => {
    server.enqueue({ mode: 'raw', status: 503, nodeHeaders: false, body, headers: { 'content-type': type, 'retry-after': '1' } });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(UnknownOutcomeException);
    expect(out.error?.mayHaveExecuted).toBe(true);
  });
});

describe('ProtocolException (maybe executed)', () => {
  it.each([
    ['garbage', 'not JSON'],
    ['not-jsonrpc', 'not a JSON-RPC 2.0 response'],
    ['id-mismatch', 'does not match'],
    ['truncated', 'cut off'],
  ] as const)('%s', async (mode, text) => {
    server.enqueue(mode);
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ProtocolException);
    expect(out.error?.mayHaveExecuted).toBe(true);
    expect(out.error?.message).toContain(text);
    expect(out.error?.node).toBe('node-a');
  });

  it('huge: over maxResponseBytes (declared length)', async () => {
    server.enqueue({ mode: 'huge', bytes: 200 * 1024 });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ProtocolException);
    expect(out.error?.message).toContain('maxResponseBytes');
  });

  it('huge: over maxResponseBytes (chunked, no length)', async () => {
    server.enqueue({ mode: 'huge', bytes: 200 * 1024, chunked: true });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ProtocolException);
    expect(out.error?.message).toContain('maxResponseBytes');
  });

  it('a huge answer under the limit is a result', async () => {
    server.enqueue({ mode: 'huge', bytes: 32 * 1024 });
    const out = await attempt(transport, server);
    expect(typeof out.response?.result).toBe('string');
  });

  it('3xx is not followed', async () => {
    server.enqueue({ mode: 'raw', status: 307, headers: { location: '/elsewhere' } });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(ProtocolException);
    expect(server.requests.filter((r) => r.idempotencyKey === out.record?.idempotencyKey)).toHaveLength(1);
  });
});

describe('AuthenticationException (not executed)', () => {
  it.each([
    ['unauthorized', 401],
    ['forbidden', 403],
  ] as const)('%s', async (mode, status) => {
    server.enqueue(mode);
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(AuthenticationException);
    expect((out.error as AuthenticationException).status).toBe(status);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expectTruthful(out);
  });
});

describe('RemoteCallException', () => {
  it('carries code, message and data', async () => {
    server.enqueue({ mode: 'rpc-error', code: -32010, message: 'insufficient funds', data: { balance: 3 } });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(RemoteCallException);
    const e = out.error as RemoteCallException;
    expect([e.code, e.message, e.data, e.mayHaveExecuted, e.node, e.epoch]).toEqual([
      -32010,
      'insufficient funds',
      { balance: 3 },
      true,
      'node-a',
      12,
    ]);
  });

  it('a JSON-RPC error body wins over a 500 status', async () => {
    server.enqueue({ mode: 'raw', status: 500, body: '{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"boom"}}' });
    const out = await attempt(transport, server);
    expect(out.error).toBeInstanceOf(RemoteCallException);
  });
});

describe('caller abort: CallAbortedException', () => {
  it('before the call: nothing sent', async () => {
    const controller = new AbortController();
    controller.abort();
    const out = await attempt(transport, server, { signal: controller.signal });
    expect(out.error).toBeInstanceOf(CallAbortedException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    expect(out.record).toBeUndefined();
  });

  it('while in flight: at once, and "maybe" since the request was written', async () => {
    server.enqueue('stall');
    const controller = new AbortController();
    const seen = server.nextRequest();
    // The alternative is far away: the stalled server never answers, so without the abort the
    // attempt would end only at its 10 s timeout. Ending before that (and as an abort, not a
    // timeout) is the evidence; how soon after abort() is a speed claim (bench/client.ts).
    const TIMEOUT_MS = 10_000;
    const sent = performance.now();
    const pending = attempt(transport, server, { signal: controller.signal, timeoutMs: TIMEOUT_MS });
    await seen;
    controller.abort();
    const out = await pending;
    expect(performance.now() - sent).toBeLessThan(TIMEOUT_MS);
    expect(out.error).toBeInstanceOf(CallAbortedException);
    expect(out.error?.mayHaveExecuted).toBe(true);
  });

  it('synchronously after send: "not executed", and it was not', async () => {
    const controller = new AbortController();
    const pending = attempt(transport, server, { signal: controller.signal });
    controller.abort();
    const out = await pending;
    expect(out.error).toBeInstanceOf(CallAbortedException);
    expect(out.error?.mayHaveExecuted).toBe(false);
    await new Promise((r) => setTimeout(r, 50));
    expectTruthful(out);
  });
});
