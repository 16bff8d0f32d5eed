/**
 * axios's http adapter with `httpVersion: 2`: its requests go through an HTTP/2 session, never an
 * agent's `addRequest`, so the attempt's evidence (evidence.ts) sees no request. A POST without a
 * key whose stream the server resets after reading it may have run: it must not be sent again.
 * Nor may a stream body, spent by the first attempt, go out again (empty) on a "not executed"
 * answer. The same with a `transport` of yours that does not use the agent. Real HTTP/2 (h2c) and HTTP/1.1
 * servers on loopback.
 */
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException } from 'hotcold/axios';
import { startScriptedServer } from './helpers.js';

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('requests axios makes without an agent, through attachPolicy', () => {
  it('a POST (no key) whose stream is reset after the server read it is sent once, and fails "maybe"', async () => {
    let posts = 0;
    const server = http2.createServer();
    server.on('stream', (stream, headers) => {
      if (headers[':method'] === 'POST') {
        posts++;
        stream.on('error', () => undefined);
        stream.on('data', () => undefined);
        stream.on('end', () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
        return;
      }
      stream.respond({ ':status': 200, 'content-type': 'application/json' });
      stream.end('{}');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const api = axios.create({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, httpVersion: 2 } as Parameters<typeof axios.create>[0]);
    const handle = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, timeoutMs: 5000 });
    cleanups.push(() => handle.detach());
    const error = await api.post('/transfers', { amount: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(posts).toBe(1);
    expect(isRPCException(error) && error.mayHaveExecuted).toBe(true);
  });

  it('through a transport of your own that makes its request without the agent: the same, sent once, "maybe"', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('POST', '/transfers', { kind: 'reset' });
    const transport = { request: (options: http.RequestOptions, callback: (res: http.IncomingMessage) => void) => http.request({ ...options, agent: false }, callback) };
    const api = axios.create({ baseURL: server.url, transport } as Parameters<typeof axios.create>[0]);
    const handle = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, timeoutMs: 5000 });
    cleanups.push(() => handle.detach());
    const error = await api.post('/transfers', { amount: 5 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(server.count('POST', '/transfers')).toBe(1);
    expect(isRPCException(error) && error.mayHaveExecuted).toBe(true);
  });

  it("the caller's abort of a POST the server holds, over HTTP/2 (the attempt signal through the http2 transport): cancelled, sent once", async () => {
    let posts = 0;
    const server = http2.createServer();
    server.on('stream', (stream) => {
      posts++;
      stream.on('error', () => undefined);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const api = axios.create({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, httpVersion: 2 } as Parameters<typeof axios.create>[0]);
    const handle = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, timeoutMs: 5000 });
    cleanups.push(() => handle.detach());
    const controller = new AbortController();
    const pending = api.post('/transfers', { amount: 5 }, { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e,
    );
    while (posts === 0) await new Promise((r) => setImmediate(r));
    controller.abort();
    const error = await pending;
    expect(axios.isCancel(error) || isRPCException(error)).toBe(true);
    expect(posts).toBe(1);
  });

  it('a stream body over HTTP/2, answered 503 NOT_ACTIVE after it was read: not sent again with the spent stream', async () => {
    const bodies: string[] = [];
    const server = http2.createServer();
    server.on('stream', (stream) => {
      let body = '';
      stream.on('error', () => undefined);
      stream.on('data', (d: Buffer) => (body += d.toString()));
      stream.on('end', () => {
        bodies.push(body);
        if (bodies.length === 1) {
          stream.respond({ ':status': 503, 'content-type': 'application/json', 'x-hotcold-node': 'node-a', 'x-hotcold-epoch': '7', 'retry-after': '0' });
          stream.end(JSON.stringify({ error: 'NOT_ACTIVE' }));
        } else {
          stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-hotcold-node': 'node-a', 'x-hotcold-epoch': '7' });
          stream.end(JSON.stringify({ got: body }));
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => new Promise((r) => server.close(r)));
    const api = axios.create({ baseURL: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, httpVersion: 2 } as Parameters<typeof axios.create>[0]);
    const handle = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, timeoutMs: 5000 });
    cleanups.push(() => handle.detach());
    const outcome = await api.post('/upload', Readable.from([Buffer.from('chunk-1;'), Buffer.from('chunk-2;')])).then(
      (r) => r.data as unknown,
      (e: unknown) => e,
    );
    // Either the call ends with the 503's failure, or a repeat carried the whole body: never a short one.
    expect(bodies[0]).toBe('chunk-1;chunk-2;');
    for (const body of bodies) expect(body).toBe('chunk-1;chunk-2;');
    if (bodies.length === 1) expect(isRPCException(outcome)).toBe(true);
  });
});
