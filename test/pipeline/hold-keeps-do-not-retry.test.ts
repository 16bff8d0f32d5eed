/**
 * While the connection holds calls for an outage, the pipeline drops a "not executed" failure's
 * Retry-After (the hold's probe paces the retry instead). The failure it passes on in its place
 * must still say everything else the original said: the server's "do not retry" (`doNotRetry`,
 * which a classifier may set on any failure) and the node's own reason (`nodeError`). A real
 * loopback HTTP server answers a standby's 503 NOT_ACTIVE with Retry-After and a "no retry" mark
 * that the user's classifier reads.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { isAxiosError } from 'axios';
import { afterAll, expect, it } from 'vitest';
import { ConnectionFailureException, createPolicy, defaultClassify, type Policy } from '../../src/index.js';

let requests = 0;
const server = http.createServer((_req, res) => {
  requests++;
  res.writeHead(503, { 'content-type': 'application/json', 'x-hotcold-node': 'standby-b', 'x-hotcold-epoch': '3', 'retry-after': '1', 'x-no-retry': '1' });
  res.end(JSON.stringify({ error: 'NOT_ACTIVE' }));
});
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
const policies: Policy[] = [];
afterAll(async () => {
  await Promise.all(policies.map((p) => p.close()));
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

it("a held call's not-executed failure keeps doNotRetry and nodeError when its Retry-After is dropped: sent once", async () => {
  const policy = createPolicy({
    retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: { minDelayMs: 5, maxDelayMs: 10 },
    breaker: false,
    budget: false,
    probe: async () => ({ ok: true, node: 'node-a' }),
    classify: (error, context) => {
      const classified = defaultClassify(error, context);
      const noRetry = isAxiosError(error) && error.response?.headers['x-no-retry'] === '1';
      if (!noRetry || !(classified instanceof ConnectionFailureException)) return classified;
      return new ConnectionFailureException(classified.message, {
        method: classified.method,
        attempts: classified.attempts,
        node: classified.node,
        epoch: classified.epoch,
        cause: error,
        retryAfterMs: classified.retryAfterMs,
        nodeError: classified.nodeError,
        doNotRetry: true,
      });
    },
  });
  policies.push(policy);
  const error = await policy.execute(({ signal }) => axios.post(`${url}/rpc`, {}, { signal }), { name: 'transfer' }).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(requests).toBe(1);
  expect(error).toBeInstanceOf(ConnectionFailureException);
  const failure = error as ConnectionFailureException;
  expect(failure.doNotRetry).toBe(true);
  expect(failure.nodeError).toBe('NOT_ACTIVE');
  expect(failure.mayHaveExecuted).toBe(false);
});
