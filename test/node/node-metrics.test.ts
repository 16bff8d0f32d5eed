/**
 * The node's OpenTelemetry instruments (docs/observability.md "Node"): two real nodes on one
 * SQLite file, real HTTP calls, read through a real SDK MeterProvider with an in-memory reader.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, RpcError, createNode, type NodeOptions } from 'hotcold/node';
import { createLease, sqliteStore } from 'hotcold/lease';
import { fixture, rpc, startNode, until, type Fixture } from './support.js';
import { histogramCount, meterProviderWithReader, valueOf } from '../support/server-metrics.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.cleanup();
  f = undefined;
});

const handlers = {
  ping: () => 'pong',
  boom: () => {
    throw new RpcError(-32050, 'refused by the application');
  },
};

describe('node metrics', () => {
  it('count ok, replayed (dedup hit), app errors, unknown methods, EXPIRED, and NOT_ACTIVE on a standby; time calls and slot waits; report status', async () => {
    f = fixture();
    const { provider, reader } = meterProviderWithReader();
    const telemetry = { meterProvider: provider };
    const a = await startNode(f, 'alpha', { handlers, telemetry, updateInterval: 100, waitInterval: 5_000 });
    await until(() => a.node.status === 'active', 20_000, 'alpha active');
    const b = await startNode(f, 'beta', { handlers, telemetry, updateInterval: 100, waitInterval: 5_000 });
    const alpha = { 'hotcold.node.name': 'alpha', 'rpc.system.name': 'jsonrpc' };
    const beta = { 'hotcold.node.name': 'beta', 'rpc.system.name': 'jsonrpc' };

    expect((await rpc(a.url, 'ping')).body.result).toBe('pong');
    const first = await rpc(a.url, 'ping', undefined, { 'idempotency-key': 'k1' });
    const repeat = await rpc(a.url, 'ping', undefined, { 'idempotency-key': 'k1' });
    expect(repeat.body.result).toBe(first.body.result);
    expect((await rpc(a.url, 'boom')).body.error.code).toBe(-32050);
    expect((await rpc(a.url, 'no.such.method')).body.error.code).toBe(-32601);
    const refused = await rpc(b.url, 'ping');
    expect(refused.status).toBe(503);
    expect(refused.body.error).toBe('NOT_ACTIVE');
    // The caller's time is already spent: EXPIRED, not executed.
    const expired = await rpc(a.url, 'ping', undefined, { 'x-hotcold-timeout-ms': '0' });
    expect(expired.body.error).toBe('EXPIRED');
    const feed = await rpc(a.url, 'hotcold.feed', { feed: 'nothing', after: 0, waitMs: 0 });
    expect(feed.body.result).toEqual({ items: [], last: 0 });

    const m = await reader.metrics();
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': 'ping', 'hotcold.outcome': 'ok' })).toBe(2);
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': 'ping', 'hotcold.outcome': 'replayed' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.dedup.hits', { 'hotcold.node.name': 'alpha', 'rpc.method': 'ping', 'hotcold.dedup.result': 'replayed' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': 'boom', 'hotcold.outcome': 'app_error', 'error.type': '-32050' })).toBe(1);
    // An unknown method is `_OTHER`: a caller cannot mint series.
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': '_OTHER', 'hotcold.outcome': 'invalid_request', 'error.type': '-32601' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': 'no.such.method' })).toBe(0);
    expect(valueOf(m, 'hotcold.node.calls', { ...beta, 'hotcold.outcome': 'NOT_ACTIVE', 'error.type': 'NOT_ACTIVE' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.calls', { ...beta, 'hotcold.outcome': 'ok' })).toBe(0);
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': 'hotcold.feed', 'hotcold.outcome': 'ok' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.calls', { ...alpha, 'rpc.method': 'ping', 'hotcold.outcome': 'EXPIRED', 'error.type': 'EXPIRED' })).toBe(1);

    // One duration per answered call, in seconds (rpc.server.call.duration, OpenTelemetry RPC conventions).
    expect(m.get('rpc.server.call.duration')?.descriptor.unit).toBe('s');
    expect(histogramCount(m, 'rpc.server.call.duration', { ...alpha, 'rpc.method': 'ping' })).toBe(4);
    expect(histogramCount(m, 'rpc.server.call.duration', beta)).toBe(1);
    // Every call that opened a transaction took a slot (the feed's read does not use one).
    expect(histogramCount(m, 'hotcold.node.transaction.slot.wait.duration', { 'hotcold.node.name': 'alpha', 'hotcold.slot.result': 'granted' })).toBe(4);
    expect(valueOf(m, 'hotcold.node.transaction.slot.waits', { 'hotcold.node.name': 'alpha' })).toBe(0);
    expect(valueOf(m, 'hotcold.node.feed.polls', { 'hotcold.node.name': 'alpha', 'hotcold.outcome': 'ok' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.feed.polls.active', { 'hotcold.node.name': 'alpha' })).toBe(0);
    expect(valueOf(m, 'hotcold.node.status', { 'hotcold.node.name': 'alpha', 'hotcold.node.status': 'active' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.status', { 'hotcold.node.name': 'beta', 'hotcold.node.status': 'standby' })).toBe(1);
    expect(valueOf(m, 'hotcold.node.status', { 'hotcold.node.name': 'beta', 'hotcold.node.status': 'active' })).toBe(0);
    await provider.shutdown();
  });

  it('counts calls that queue for a transaction slot', async () => {
    f = fixture();
    const { provider, reader } = meterProviderWithReader();
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    let entered = 0;
    const a = await startNode(f, 'alpha', {
      telemetry: { meterProvider: provider },
      maxConcurrentTransactions: 1,
      handlers: {
        slow: async () => {
          entered += 1;
          await gate;
          return 'done';
        },
      },
    });
    await until(() => a.node.status === 'active', 20_000, 'alpha active');
    const calls = [rpc(a.url, 'slow', undefined, {}, 1), rpc(a.url, 'slow', undefined, {}, 2)];
    await until(() => entered === 1, 10_000, 'first call running');
    // Both calls are executing, the second one waiting for the one slot: let the first finish.
    await until(() => a.node.inFlight === 2, 10_000, 'second call queued');
    expect(entered).toBe(1);
    release();
    for (const answer of await Promise.all(calls)) expect(answer.body.result).toBe('done');
    const m = await reader.metrics();
    expect(valueOf(m, 'hotcold.node.transaction.slot.waits', { 'hotcold.node.name': 'alpha', 'hotcold.slot.result': 'granted' })).toBe(1);
    expect(histogramCount(m, 'hotcold.node.transaction.slot.wait.duration', { 'hotcold.node.name': 'alpha' })).toBe(2);
    await provider.shutdown();
  });

  it('rejects bad telemetry and metrics options with a ConfigurationError naming the field', () => {
    const store = sqliteStore(':memory:');
    const lease = createLease({ store, machineName: 'x' });
    const { provider } = meterProviderWithReader();
    const bad: Array<[Partial<NodeOptions>, string]> = [
      [{ telemetry: 5 as never }, 'telemetry'],
      [{ telemetry: { meterProvider: {} as never } }, 'telemetry.meterProvider'],
      [{ metrics: 9464 as never }, 'metrics'],
      [{ metrics: { port: -1 } }, 'metrics.port'],
      [{ metrics: { port: 70_000 } }, 'metrics.port'],
      [{ metrics: { port: 1.5 } }, 'metrics.port'],
      [{ metrics: { port: 8080 }, port: 8080 }, 'metrics.port'],
      [{ metrics: { port: 0, host: '' } }, 'metrics.host'],
      [{ metrics: { prt: 1 } as never }, 'metrics.prt'],
      [{ metrics: { port: 0 }, telemetry: { meterProvider: provider } }, 'metrics'],
    ];
    for (const [options, field] of bad) {
      let caught: unknown;
      try {
        createNode({ lease, port: 0, handlers: {}, ...options });
      } catch (error) {
        caught = error;
      }
      expect(caught, field).toBeInstanceOf(ConfigurationError);
      expect((caught as ConfigurationError).field, field).toBe(field);
    }
    void lease.close().then(() => store.close());
  });
});
