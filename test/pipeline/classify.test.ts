/**
 * defaultClassify on what real libraries throw: axios answers from a loopback server (HTTP
 * semantics), fetch/undici and Node socket errors, AbortError/TimeoutError, and grpc-js status
 * errors (duck-typed: grpc-js is an optional peer, so its shape is built here as it throws it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AuthenticationException,
  CallAbortedException,
  ConnectionFailureException,
  RemoteCallException,
  UnknownOutcomeException,
  defaultClassify,
  type ClassifyContext,
} from 'hotcold';

const context: ClassifyContext = { name: 'op', attempt: 1, backend: 'default' };
let server: http.Server;
let base = '';

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const [, status, extra] = /^\/(\d{3})(?:\/(.*))?$/.exec(req.url ?? '') ?? [];
    const headers: Record<string, string> = {};
    if (extra === 'not-forwarded') headers['x-hotcold-not-forwarded'] = '1';
    if (extra === 'node') Object.assign(headers, { 'x-hotcold-node': 'n1', 'x-hotcold-epoch': '4', 'content-type': 'application/json' });
    if (extra === 'date') headers['retry-after'] = new Date(Date.now() + 30_000).toUTCString();
    if (extra === 'seconds') headers['retry-after'] = '2';
    res.writeHead(Number(status), headers);
    res.end(extra === 'node' ? JSON.stringify({ error: 'NOT_ACTIVE' }) : 'x');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const axiosError = (path: string): Promise<unknown> => axios.get(`${base}${path}`).then(() => undefined, (e: unknown) => e);

describe('defaultClassify', () => {
  it('axios answers follow HTTP semantics', async () => {
    expect(defaultClassify(await axiosError('/401'), context)).toBeInstanceOf(AuthenticationException);
    const conflict = defaultClassify(await axiosError('/409'), context);
    expect(conflict).toBeInstanceOf(RemoteCallException);
    expect((conflict as RemoteCallException).code).toBe(409);
    const slow = defaultClassify(await axiosError('/429/seconds'), context) as ConnectionFailureException;
    expect(slow).toBeInstanceOf(ConnectionFailureException);
    expect(slow.backPressure).toBe(true);
    expect(slow.retryAfterMs).toBe(2000);
    const dated = defaultClassify(await axiosError('/429/date'), context) as ConnectionFailureException;
    expect(dated.retryAfterMs).toBeGreaterThan(20_000);
    expect(defaultClassify(await axiosError('/503/not-forwarded'), context)).toBeInstanceOf(ConnectionFailureException);
    const node = defaultClassify(await axiosError('/503/node'), context) as ConnectionFailureException;
    expect(node).toBeInstanceOf(ConnectionFailureException);
    expect(node.nodeError).toBe('NOT_ACTIVE');
    expect(node.node).toBe('n1');
    for (const status of ['/503', '/502', '/504', '/500']) {
      const maybe = defaultClassify(await axiosError(status), context);
      expect(maybe, status).toBeInstanceOf(UnknownOutcomeException);
      expect(maybe.mayHaveExecuted).toBe(true);
    }
  });

  it('network errors: refused is "not executed"; a reset is "maybe" unless written === false', async () => {
    const closed = http.createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const fetchError = await fetch(`http://127.0.0.1:${port}/`).then(() => undefined, (e: unknown) => e);
    expect(defaultClassify(fetchError, context)).toBeInstanceOf(ConnectionFailureException);
    const axiosRefused = await axios.get(`http://127.0.0.1:${port}/`).then(() => undefined, (e: unknown) => e);
    expect(defaultClassify(axiosRefused, context)).toBeInstanceOf(ConnectionFailureException);
    const reset = Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' });
    expect(defaultClassify(reset, context)).toBeInstanceOf(UnknownOutcomeException);
    expect(defaultClassify(reset, { ...context, written: false })).toBeInstanceOf(ConnectionFailureException);
    expect(defaultClassify(new Error('socket hang up'), context)).toBeInstanceOf(UnknownOutcomeException);
  });

  it('an unreachable host or network is "not executed" only when connecting: on an established connection it is "maybe"', () => {
    // What Node throws (libuv's errno errors): a connect that found no route, and the same code on
    // a read or write of an established connection, where the kernel reports the ICMP error it got
    // while retransmitting (the request may have reached the server before the route was lost).
    const nodeError = (code: string, syscall: string): Error => Object.assign(new Error(`${syscall} ${code}`), { code, syscall, errno: -113 });
    for (const code of ['EHOSTUNREACH', 'ENETUNREACH', 'EHOSTDOWN', 'ENETDOWN']) {
      expect(defaultClassify(nodeError(code, 'connect'), context), `connect ${code}`).toBeInstanceOf(ConnectionFailureException);
      for (const syscall of ['read', 'write', 'writev']) {
        const broke = defaultClassify(nodeError(code, syscall), context);
        expect(broke, `${syscall} ${code}`).toBeInstanceOf(UnknownOutcomeException);
        expect(broke.mayHaveExecuted).toBe(true);
        // As fetch wraps it (TypeError: fetch failed, the socket's error as its cause).
        const wrapped = defaultClassify(new TypeError('fetch failed', { cause: nodeError(code, syscall) }), context);
        expect(wrapped, `fetch ${syscall} ${code}`).toBeInstanceOf(UnknownOutcomeException);
        // With the adapter's evidence that nothing was written, it is "not executed" again.
        expect(defaultClassify(nodeError(code, syscall), { ...context, written: false })).toBeInstanceOf(ConnectionFailureException);
      }
    }
    expect(defaultClassify(nodeError('ENOTFOUND', 'getaddrinfo'), context)).toBeInstanceOf(ConnectionFailureException);
  });

  it('AbortError and TimeoutError', () => {
    const aborted = defaultClassify(new DOMException('x', 'AbortError'), context);
    expect(aborted).toBeInstanceOf(CallAbortedException);
    expect(aborted.mayHaveExecuted).toBe(true);
    expect(defaultClassify(new DOMException('x', 'AbortError'), { ...context, written: false }).mayHaveExecuted).toBe(false);
    expect(defaultClassify(new DOMException('x', 'TimeoutError'), context)).toBeInstanceOf(UnknownOutcomeException);
  });

  it('grpc-js status errors', () => {
    const metadata = (entries: Record<string, string> = {}): { get(key: string): string[] } => ({ get: (key) => (key in entries ? [entries[key] as string] : []) });
    const status = (code: number, extra: Record<string, string> = {}): unknown =>
      Object.assign(new Error(`${code} status`), { code, details: 'd', metadata: metadata(extra) });
    expect(defaultClassify(status(14), context)).toBeInstanceOf(UnknownOutcomeException); // UNAVAILABLE, no evidence
    expect(defaultClassify(status(14), { ...context, written: false })).toBeInstanceOf(ConnectionFailureException);
    expect(defaultClassify(status(4), context)).toBeInstanceOf(UnknownOutcomeException); // DEADLINE_EXCEEDED
    expect(defaultClassify(status(16), context)).toBeInstanceOf(AuthenticationException);
    const pushback = defaultClassify(status(8, { 'grpc-retry-pushback-ms': '250' }), context) as ConnectionFailureException;
    expect(pushback.backPressure).toBe(true);
    expect(pushback.retryAfterMs).toBe(250);
    const notFound = defaultClassify(status(5), context);
    expect(notFound).toBeInstanceOf(RemoteCallException);
    expect((notFound as RemoteCallException).code).toBe(5);
    // RESOURCE_EXHAUSTED without pushback is no evidence of "not executed": an answer, as the gRPC adapter reads it.
    const exhausted = defaultClassify(status(8), context);
    expect(exhausted).toBeInstanceOf(RemoteCallException);
    expect(exhausted.mayHaveExecuted).toBe(true);
    expect(exhausted.doNotRetry).toBeUndefined();
  });

  it("grpc-js statuses with a negative or malformed pushback carry the server's do-not-retry, a valid one its delay (gRFC A6)", () => {
    const status = (code: number, pushback?: string): unknown =>
      Object.assign(new Error(`${code} status`), { code, details: 'd', metadata: { get: (key: string) => (key === 'grpc-retry-pushback-ms' && pushback !== undefined ? [pushback] : []) } });
    for (const pushback of ['-1', '-250', 'soon', '1.5', '']) {
      for (const [code, written] of [[8, undefined], [14, false], [14, undefined], [4, undefined], [13, undefined], [5, undefined]] as const) {
        const error = defaultClassify(status(code, pushback), { ...context, written });
        expect(error.doNotRetry, `${code} with pushback '${pushback}'`).toBe(true);
      }
    }
    expect(defaultClassify(status(14, '100'), { ...context, written: false }).doNotRetry).toBeUndefined();
    // A valid pushback delays whatever is retried, a "maybe" included.
    const maybe = defaultClassify(status(14, '100'), context);
    expect(maybe).toBeInstanceOf(UnknownOutcomeException);
    expect((maybe as UnknownOutcomeException).retryAfterMs).toBe(100);
    expect(Object.hasOwn(defaultClassify(status(14), context), 'retryAfterMs')).toBe(false);
    expect(defaultClassify(status(8, '-1'), context)).toBeInstanceOf(RemoteCallException);
  });

  it('anything else may have run, and no credential of the request leaks into the error', async () => {
    const unknown = defaultClassify('weird', context);
    expect(unknown).toBeInstanceOf(UnknownOutcomeException);
    const secret = await axios.get(`${base}/500`, { headers: { Authorization: 'Bearer s3cr3t-token' } }).then(() => undefined, (e: unknown) => e);
    const error = defaultClassify(secret, context);
    expect(JSON.stringify(error)).not.toContain('s3cr3t-token');
    expect(String(error.stack)).not.toContain('s3cr3t-token');
  });
});
