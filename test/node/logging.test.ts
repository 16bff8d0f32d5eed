/**
 * The `logger` option (docs/logging.md), on real nodes over one SQLite file: records of a lease
 * loss, the standby's takeover and a client's failover reach the logger, structured and without
 * the credentials configured; without a logger a graceful failover prints nothing, and a lease
 * loss prints exactly the documented one line on stderr; a logger of the wrong shape is a
 * ConfigurationError naming the field.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createClient, createPolicy, type HotcoldClient, type Logger } from 'hotcold';
import { createLease, releaseLeaseHolder, sqliteStore } from 'hotcold/lease';
import { createNode } from 'hotcold/node';
import { fixture, until, type Fixture } from './support.js';

interface LogRecord {
  level: 'debug' | 'info' | 'warn' | 'error';
  obj: Record<string, unknown>;
  msg: string | undefined;
}

/** A logger that keeps every record (what a pino test destination would hold). */
function arraySink(): { logger: Logger; records: LogRecord[] } {
  const records: LogRecord[] = [];
  const at =
    (level: LogRecord['level']) =>
    (obj: object, msg?: string): void => {
      records.push({ level, obj: obj as Record<string, unknown>, msg });
    };
  return { logger: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, records };
}

const PASSWORD = 'pw-Hunter2-secret';
const BEARER = 'tok-Sesame-0123456789';

let f: Fixture | undefined;
let client: HotcoldClient | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
  await f?.cleanup();
  f = undefined;
});

async function pair(fx: Fixture, logger: { a?: Logger; b?: Logger }) {
  const handlers = { ping: () => 'pong' };
  const start = async (machine: string, log: Logger | undefined) => {
    const store = sqliteStore(fx.dbPath);
    fx.stores.push(store);
    const lease = createLease({ store, machineName: machine, updateInterval: 100, waitInterval: 1000, mode: 'warm', ...(log ? { logger: log } : {}) });
    fx.leases.push(lease);
    const node = createNode({ lease, port: 0, handlers, ...(log ? { logger: log } : {}) });
    fx.nodes.push(node);
    const address = await node.start();
    return { store, lease, node, url: address.url };
  };
  const a = await start('alpha', logger.a);
  await until(() => a.node.status === 'active', 15_000, 'alpha active');
  const b = await start('beta', logger.b);
  return { a, b };
}

/** A client over the pool [a, b] with a password in each URL and a bearer token. */
function poolClient(urls: string[], logger?: Logger): HotcoldClient {
  return createClient({
    url: urls.map((u) => u.replace('http://', `http://user:${PASSWORD}@`)),
    headers: { 'x-api-key': BEARER },
    retry: { maxAttempts: 60, minDelayMs: 20, maxDelayMs: 100 },
    budget: false,
    breaker: false,
    deadlineMs: 30_000,
    methods: { ping: { idempotent: true } },
    ...(logger ? { logger } : {}),
  });
}

describe('logger option', () => {
  it('records a lease loss, the takeover, the node requests and the client failover; no secret in any record', async () => {
    f = fixture();
    const sinkA = arraySink();
    const sinkB = arraySink();
    const sinkClient = arraySink();
    const { a, b } = await pair(f, { a: sinkA.logger, b: sinkB.logger });
    client = poolClient([a.url, b.url], sinkClient.logger);
    expect(await client.call('ping', {})).toBe('pong');

    // An operator clears the holder: alpha's next renewal is rejected (lost), beta takes over.
    await releaseLeaseHolder(a.store, 'hotcold');
    // Warm mode: alpha goes back to standby and contends again, so on a loaded machine it can win
    // the freed row before beta. Once its loss is recorded it leaves, and beta is the only contender.
    await until(() => sinkA.records.some((r) => r.msg === 'lease lost; stopped acting'), 20_000, 'alpha lost');
    await a.node.stop();
    await a.lease.close();
    await until(() => b.node.status === 'active', 20_000, 'beta active');
    expect(await client.call('ping', {})).toBe('pong');

    const lost = sinkA.records.find((r) => r.msg === 'lease lost; stopped acting');
    expect(lost, JSON.stringify(sinkA.records)).toBeDefined();
    expect(lost).toMatchObject({ level: 'error', obj: { component: 'lease', lease: 'hotcold', epoch: expect.any(Number) } });
    const acquired = sinkB.records.find((r) => r.msg === 'lease acquired');
    expect(acquired).toMatchObject({ level: 'info', obj: { component: 'lease', epoch: expect.any(Number), waitedMs: expect.any(Number) } });
    expect(sinkB.records.some((r) => r.msg === 'node status changed' && r.obj.status === 'active')).toBe(true);

    // The request log: alpha served the first call, beta the second (maybe after alpha refused one).
    const requests = [...sinkA.records, ...sinkB.records].filter((r) => r.msg === 'request');
    expect(requests.length).toBeGreaterThanOrEqual(2);
    for (const r of requests) {
      expect(r.level).toBe('info');
      expect(r.obj).toMatchObject({ component: 'node', key: expect.any(String), outcome: expect.any(String), httpStatus: expect.any(Number), durationMs: expect.any(Number) });
      // A standby refuses before reading the body: it knows the key (a header), not the method.
      expect(r.obj.method).toBe(r.obj.outcome === 'NOT_ACTIVE' ? undefined : 'ping');
      expect(r.obj).not.toHaveProperty('params');
    }
    // Both calls were answered and logged; which node served the first is the lease's business:
    // on a loaded machine alpha's renewal can lapse before it, and beta served it instead.
    expect(requests.filter((r) => r.obj.outcome === 'ok').length).toBeGreaterThanOrEqual(2);
    expect(sinkB.records.some((r) => r.msg === 'request' && r.obj.outcome === 'ok' && r.obj.epoch === acquired?.obj.epoch)).toBe(true);

    // The client moved to beta: a retry, a failover or a reconnection was logged (never on success).
    const moved = sinkClient.records.filter((r) => ['retrying', 'failed over to another node', 'reconnected', 'disconnected; holding calls while a node takes over'].includes(r.msg ?? ''));
    expect(moved.length, JSON.stringify(sinkClient.records)).toBeGreaterThan(0);
    for (const r of sinkClient.records) expect(r.obj.component).toBe('client');

    const everything = JSON.stringify([...sinkA.records, ...sinkB.records, ...sinkClient.records]);
    expect(everything).not.toContain(PASSWORD);
    expect(everything).not.toContain(BEARER);
  }, 60_000);

  it('a call that succeeds logs nothing', async () => {
    f = fixture();
    const sink = arraySink();
    const { a } = await pair(f, {});
    client = poolClient([a.url], sink.logger);
    // The first answer tells the client who serves (a state change, logged at debug); then silence.
    expect(await client.call('ping', {})).toBe('pong');
    sink.records.length = 0;
    for (let i = 0; i < 20; i += 1) expect(await client.call('ping', {})).toBe('pong');
    expect(sink.records).toEqual([]);
  }, 60_000);

  it('without a logger, a graceful failover prints nothing; a lost lease prints the one documented stderr line', async () => {
    f = fixture();
    const written: string[] = [];
    const out = process.stdout.write.bind(process.stdout);
    const err = process.stderr.write.bind(process.stderr);
    const consoleMethods = ['log', 'info', 'warn', 'error', 'debug'] as const;
    const originals = consoleMethods.map((m) => console[m]);
    // Observe (and still pass on) what the process writes while the library runs.
    process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]) => (written.push(String(chunk)), out(chunk, ...rest)));
    process.stderr.write = ((chunk: string | Uint8Array, ...rest: never[]) => (written.push(String(chunk)), err(chunk, ...rest)));
    for (const m of consoleMethods) console[m] = (...args: unknown[]) => written.push(`console.${m}: ${args.map(String).join(' ')}`);
    try {
      const { a, b } = await pair(f, {});
      client = poolClient([a.url, b.url]);
      expect(await client.call('ping', {})).toBe('pong');
      // Graceful: alpha drains and releases, beta takes over, the client follows.
      await a.node.stop({ drain: true });
      await a.lease.close();
      await until(() => b.node.status === 'active', 20_000, 'beta active');
      expect(await client.call('ping', {})).toBe('pong');
      expect(written.filter((w) => /hotcold|console\./.test(w))).toEqual([]);

      // A loss is a fault nobody may be watching for: one line on stderr (the node's: the node
      // watches its lease, so the lease itself stays quiet).
      await releaseLeaseHolder(b.store, 'hotcold');
      await until(() => written.some((w) => w.includes('lease lost')), 20_000, 'the lost line');
      const lines = written.filter((w) => /hotcold|console\./.test(w));
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^hotcold node error: lease lost; the node stopped serving \{"component":"node","node":"beta","epoch":\d+/);
    } finally {
      process.stdout.write = out;
      process.stderr.write = err;
      consoleMethods.forEach((m, i) => (console[m] = originals[i] as never));
    }
  }, 60_000);

  it('a logger without the four level methods is a ConfigurationError naming the field', async () => {
    f = fixture();
    const store = sqliteStore(f.dbPath);
    f.stores.push(store);
    const partial = { info: () => undefined, warn: () => undefined, error: () => undefined };
    for (const bad of [{}, partial, 'stderr', null, 1]) {
      const field = (fn: () => unknown): string | undefined => {
        try {
          fn();
        } catch (error) {
          return error instanceof ConfigurationError ? error.field : 'not a ConfigurationError';
        }
        return undefined;
      };
      expect(field(() => createClient({ url: 'http://127.0.0.1:1', logger: bad as never }))).toBe('logger');
      expect(field(() => createPolicy({ logger: bad as never }))).toBe('logger');
      expect(field(() => createLease({ store, machineName: 'x', logger: bad as never }))).toBe('logger');
      const lease = createLease({ store, machineName: 'x' });
      f.leases.push(lease);
      expect(field(() => createNode({ lease, port: 0, handlers: {}, logger: bad as never }))).toBe('logger');
    }
  });
});
