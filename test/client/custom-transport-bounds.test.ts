/**
 * A `transport` of your own (docs/client.md: any object with `send`, `health`, `close`) need not
 * end its attempts and probes at their `timeoutMs`: `createMemoryTransport` does not, and a
 * hand-written one over another HTTP library may not either. The client's promises still hold:
 * the call ends by its deadline, the attempt's `signal` aborts at the attempt's timeout as
 * `TransportRequest.signal` says, and a probe that never settles does not stall recovery. What it
 * resolves with is checked: an RPCException, never a TypeError, reaches the caller.
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionFailureException,
  createClient,
  DeadlineExceededException,
  ProtocolException,
  type HealthResult,
  type HotcoldClient,
  type Transport,
  type TransportRequest,
  type TransportResponse,
} from 'hotcold';
import { until } from './helpers.js';

const clients: HotcoldClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
});

const never = <T>(): Promise<T> => new Promise<T>(() => undefined);

describe('a transport of yours that ignores timeoutMs or answers nothing', () => {
  it('a call whose attempt and probes never settle ends by its deadline, "may have run", and the attempt is told by its signal', async () => {
    const signals: AbortSignal[] = [];
    const transport: Transport = {
      send: (request: TransportRequest): Promise<TransportResponse> => {
        if (request.signal) signals.push(request.signal);
        return never();
      },
      health: (): Promise<HealthResult> => never(),
      close: async () => undefined,
    };
    const client = createClient({ url: 'http://127.0.0.1:1', transport, timeoutMs: 200, deadlineMs: 600 });
    clients.push(client);
    const error = await client.call('transfer', { amount: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeadlineExceededException);
    expect((error as DeadlineExceededException).mayHaveExecuted).toBe(true);
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('a probe that never settles does not stall recovery: the next probe finds the node and the held call succeeds', async () => {
    let up = false;
    let probes = 0;
    const transport: Transport = {
      send: (request: TransportRequest): Promise<TransportResponse> =>
        up
          ? Promise.resolve({ result: 'done', status: 200, node: 'n', epoch: 1, dedup: false })
          : Promise.reject(new ConnectionFailureException(`${request.method}: refused`, { method: request.method })),
      health: (): Promise<HealthResult> => {
        probes += 1;
        // The first probe hangs for good; the node is back by the next one.
        if (probes === 1) return never();
        up = true;
        return Promise.resolve({ ok: true, status: 200, node: 'n', epoch: 1 });
      },
      close: async () => undefined,
    };
    const client = createClient({
      url: 'http://127.0.0.1:1',
      transport,
      timeoutMs: 1000,
      deadlineMs: 20_000,
      retry: { maxAttempts: 10, minDelayMs: 1, maxDelayMs: 5 },
      reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 200 },
    });
    clients.push(client);
    const call = client.call('transfer', { amount: 1 });
    await until(() => probes >= 2, 15_000, 'a second probe');
    await expect(call).resolves.toBe('done');
  });

  it('a transport that resolves with no response object: a ProtocolException that may have run, not a TypeError', async () => {
    for (const answer of [undefined, null]) {
      const transport: Transport = {
        send: () => Promise.resolve(answer as unknown as TransportResponse),
        health: () => Promise.resolve({ ok: true, status: 200 }),
        close: async () => undefined,
      };
      const client = createClient({ url: 'http://127.0.0.1:1', transport, retry: { maxAttempts: 1 } });
      clients.push(client);
      const error = await client.call('transfer', { amount: 1 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ProtocolException);
      expect((error as ProtocolException).mayHaveExecuted).toBe(true);
    }
  });
});

