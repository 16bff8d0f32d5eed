/**
 * Your own axios instance with an interceptor that re-sends a failed request — axios-retry's
 * default, `instance.request(error.config)` on a network error, for POST too. The re-send goes
 * through the same attempt (the config carries it), so the client would count one attempt while
 * the node ran the call twice: a non-idempotent call the client itself would never repeat after a
 * cut connection ("maybe"). The attempt refuses a second request unless the first was answered
 * in full; the call ends as the first request's failure says, and the pipeline decides.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import axios, { type AxiosError } from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, UnknownOutcomeException, type HotcoldClient } from 'hotcold';

const closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
});

/** Runs every POST it reads (counts it), then cuts the first connection; answers the others. */
async function startCuttingNode(): Promise<{ url: string; executed: () => number }> {
  let executed = 0;
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      if (req.url !== '/rpc') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{"status":"active","node":"n"}');
        return;
      }
      executed += 1;
      if (executed === 1) {
        res.socket?.destroy();
        return;
      }
      const { id } = JSON.parse(body) as { id: number };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  closers.push(async () => {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, executed: () => executed };
}

function clientWithResendingInterceptor(url: string): { client: HotcoldClient; resends: () => number } {
  const agent = new http.Agent({ keepAlive: true });
  const instance = axios.create({ httpAgent: agent });
  let resends = 0;
  instance.interceptors.response.use(undefined, (error: AxiosError) => {
    // axios-retry's default condition: a network error (no response), any method.
    if (error.response === undefined && error.config !== undefined && resends < 3) {
      resends += 1;
      return instance.request(error.config);
    }
    throw error;
  });
  const client = createClient({ url, axios: instance, retry: { maxAttempts: 1 }, methods: { transfer: { idempotent: false } } });
  closers.push(async () => {
    await client.close();
    agent.destroy();
  });
  return { client, resends: () => resends };
}

describe('an axios instance whose interceptor re-sends a failed request', () => {
  it('does not send a non-idempotent call again after its connection was cut: one execution, and the call may have run', async () => {
    const node = await startCuttingNode();
    const { client, resends } = clientWithResendingInterceptor(node.url);
    const error = await client.call('transfer', { amount: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(resends()).toBeGreaterThan(0);
    expect(node.executed()).toBe(1);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
  });

  it('still lets an interceptor repeat a request that was answered in full (a token refresh after a 401)', async () => {
    let seen = 0;
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen += 1;
        if (req.headers.authorization !== 'Bearer fresh') {
          res.writeHead(401, { 'content-type': 'text/plain' });
          res.end('expired');
          return;
        }
        const { id } = JSON.parse(body) as { id: number };
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    closers.push(async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });
    const instance = axios.create();
    instance.interceptors.response.use((response) => {
      if (response.status === 401 && response.config.headers.Authorization !== 'Bearer fresh') {
        response.config.headers.Authorization = 'Bearer fresh';
        return instance.request(response.config);
      }
      return response;
    });
    const client = createClient({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, axios: instance, retry: { maxAttempts: 1 } });
    closers.push(() => client.close());
    await expect(client.call('transfer', { amount: 1 })).resolves.toBe('ok');
    expect(seen).toBe(2);
  });
});
