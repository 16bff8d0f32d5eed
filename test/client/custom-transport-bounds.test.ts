/**
 * A `transport` of your own (docs/client.md: any object with `send`, `health`, `close`) need not
 * read `timeoutMs`: the attempt's `signal` aborts at the attempt's timeout as
 * `TransportRequest.signal` says, so a transport that ends its work when its signal aborts (as
 * `createMemoryTransport` does) keeps every call within its deadline; a probe that never settles
 * does not stall recovery. What it resolves with is checked: an RPCException, never a TypeError,
 * reaches the caller. The pipeline does not race a client's attempts (that would cost a promise
 * and a timer per call): a transport that reads neither `timeoutMs` nor `signal` must end its
 * attempts by itself (docs/client.md).
 */
import { afterEach, describe, expect, it } from 'vitest';
import {
  ConnectionFailureException,
  createClient,
  createMemoryTransport,
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
  it('a call whose attempts end only on their signal, and whose probes never settle, ends by its deadline, "may have run"', async () => {
    const signals: AbortSignal[] = [];
    const transport: Transport = {
      // Never answers, ignores timeoutMs, and ends its work when its signal aborts.
      send: (request: TransportRequest): Promise<TransportResponse> => {
        const signal = request.signal as AbortSignal;
        signals.push(signal);
        return new Promise<TransportResponse>((_resolve, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }));
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

  it('createMemoryTransport with a handler that never answers: the call ends by its deadline, and close() leaves no timer', async () => {
    const transport = createMemoryTransport({ handler: () => never() });
    const client = createClient({ url: 'http://memory', transport, timeoutMs: 100, deadlineMs: 400, methods: { read: { idempotent: true } } });
    const error = await client.call('read').then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(DeadlineExceededException);
    const slow = client.call('read').catch(() => undefined);
    await client.close();
    await slow;
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout')).toHaveLength(0);
  });
});

