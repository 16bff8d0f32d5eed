/**
 * A stream the balancer resets with REFUSED_STREAM is no evidence that the call did not run.
 * HAProxy (the shipped examples/haproxy/haproxy-grpc.cfg, HTTP/2 on both sides) forwards the call
 * to the hot node; when the node's connection or stream then breaks before an answer (the node
 * crashed, reset the stream, or was cut mid-call), HAProxy resets the client's stream with
 * RST_STREAM REFUSED_STREAM, which grpc-js reports as UNAVAILABLE "Stream refused by server" —
 * the very words grpc-js uses for a stream a server refused unprocessed (RFC 9113 §8.7). The node
 * had the whole request (its handler ran here), so the call may have run: a non-idempotent call
 * must not be sent again, and the caller must not be told "not executed" (DESIGN §1: only the
 * balancer's mark, a node's answer or a request never fully written say so).
 */
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startHaproxy } from '../../src/cli/demo/haproxy.js';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { GRPC_HAPROXY_CONFIG, haproxyOrFail } from '../e2e/grpc-support.js';
import { ECHO_METHOD, QUICK_POLICY, callEcho, freePort, interceptedClients } from './support.js';

const clients = interceptedClients();

/** The health check's SERVING answer: one HealthCheckResponse{status: SERVING} message. */
const SERVING = Buffer.from('00000000020801', 'hex');

type Break = 'resets the stream' | 'drops the connection';

/**
 * A raw HTTP/2 node: SERVING on the health check HAProxy sends; every other stream counts as an
 * execution once its request has arrived whole, then breaks as told, without an answer.
 */
async function breakingNode(how: Break): Promise<{ port: number; executed: () => number; attempts: string[]; checked: (n: number) => Promise<void> }> {
  let executed = 0;
  let checks = 0;
  const attempts: string[] = [];
  const waiters = new Set<() => void>();
  const sessions = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (session) => {
    sessions.add(session);
    session.on('error', () => undefined);
    session.on('close', () => sessions.delete(session));
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    if (headers[':path'] === '/grpc.health.v1.Health/Check') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      stream.end(SERVING);
      stream.resume();
      checks++;
      for (const wake of [...waiters]) wake();
      return;
    }
    attempts.push(String(headers['x-hotcold-attempt']));
    stream.resume();
    stream.on('end', () => {
      executed++;
      if (how === 'resets the stream') stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
      else stream.session?.destroy();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  clients.onCleanup(
    () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    executed: () => executed,
    attempts,
    checked: (n) =>
      new Promise<void>((resolve) => {
        const check = (): void => {
          if (checks < n) return;
          waiters.delete(check);
          resolve();
        };
        waiters.add(check);
        check();
      }),
  };
}

describe.skipIf(!haproxyOrFail())('behind HAProxy: the node broke after it had the call', () => {
  for (const how of ['resets the stream', 'drops the connection'] as const) {
    it(`the node ${how}: "maybe", and a non-idempotent call runs once`, async () => {
      const node = await breakingNode(how);
      const standby = await freePort();
      const haproxy = await startHaproxy({ template: GRPC_HAPROXY_CONFIG, backends: [{ name: 'node-a', port: node.port }, { name: 'node-b', port: standby }] });
      clients.onCleanup(() => haproxy.stop());
      // Two passed checks: HAProxy counts the node up.
      await node.checked(2);
      // grpc-js's own transparent retry of a refused stream is off: it would re-send the call
      // below the interceptor (docs/grpc.md, "Behind HAProxy").
      const { client } = clients.make(
        `127.0.0.1:${haproxy.port}`,
        { ...QUICK_POLICY, deadlineMs: 10_000, methods: { [ECHO_METHOD]: { idempotent: false } } },
        { 'grpc.enable_retries': 0 },
      );
      const result = await callEcho(client, { transfer: 1 });
      const reason = rpcExceptionOf(result.error);
      expect(node.executed()).toBeGreaterThan(0);
      expect(reason?.mayHaveExecuted, `${String(reason?.kind)}: ${String(reason?.message)}`).toBe(true);
      expect(node.attempts).toEqual(['1']);
      expect(node.executed()).toBe(1);
    });
  }
});
