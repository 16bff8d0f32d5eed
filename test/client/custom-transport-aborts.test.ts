/**
 * A transport of yours that ends its attempt when `TransportRequest.signal` aborts, as the contract
 * asks, built on a library that rejects with its own error rather than the signal's reason: Node's
 * `http.request({ signal })` rejects with an `AbortError` (the reason only as its `cause`), axios
 * with a `CanceledError`. Found by attacking the client's unraced attempts: the attempt's timeout
 * reached the caller as CallAbortedException ("aborted", never retried, although nobody aborted),
 * where a transport that rejected with the reason got the timeout's UnknownOutcomeException and its
 * retries. Also: a transport that resolves with an array is no response object either.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createClient,
  ProtocolException,
  UnknownOutcomeException,
  type HotcoldClient,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from 'hotcold';

const clients: HotcoldClient[] = [];
const servers: http.Server[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** A loopback HTTP server that reads requests and never answers. */
async function silentServer(): Promise<string> {
  const server = http.createServer(() => undefined);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** A transport on node:http that hands the attempt's signal to the request (read after an await). */
function httpTransport(sent: AbortSignal[]): Transport {
  return {
    send: async (request: TransportRequest): Promise<TransportResponse> => {
      const body = await Promise.resolve(JSON.stringify({ method: request.method, params: request.params }));
      const signal = request.signal as AbortSignal;
      sent.push(signal);
      return new Promise<TransportResponse>((resolve, reject) => {
        const req = http.request(request.baseUrl, { method: 'POST', signal }, (res) => {
          res.resume();
          res.on('end', () => resolve({ result: null, status: res.statusCode ?? 0, dedup: false }));
        });
        req.on('error', reject);
        req.end(body);
      });
    },
    health: async () => ({ ok: true, status: 200 }),
    close: async () => undefined,
  };
}

describe("a transport of yours that rejects with its own error when the attempt's signal aborts", () => {
  it("the attempt's timeout is an UnknownOutcomeException that may have run, and an idempotent call retries", async () => {
    const url = await silentServer();
    const sent: AbortSignal[] = [];
    const once = createClient({ url, transport: httpTransport(sent), timeoutMs: 300, retry: { maxAttempts: 1 } });
    clients.push(once);
    const error = await once.call('transfer').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnknownOutcomeException);
    expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
    sent.length = 0;
    const client = createClient({ url, transport: httpTransport(sent), timeoutMs: 300, retry: { maxAttempts: 2 }, methods: { lookup: { idempotent: true } } });
    clients.push(client);
    await expect(client.call('lookup')).rejects.toMatchObject({ mayHaveExecuted: true });
    expect(sent).toHaveLength(2);
    expect(new Set(sent).size).toBe(sent.length);
  }, 60_000);

  it('a transport that resolves with an array: a ProtocolException, not a success with no result', async () => {
    const client = createClient({
      url: 'http://memory',
      transport: {
        send: async () => [{ result: 1, status: 200, dedup: false }] as unknown as TransportResponse,
        health: async () => ({ ok: true, status: 200 }),
        close: async () => undefined,
      },
    });
    clients.push(client);
    await expect(client.call('m')).rejects.toBeInstanceOf(ProtocolException);
  });
});
