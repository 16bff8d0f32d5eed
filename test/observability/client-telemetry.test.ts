/**
 * Issue 10 §1, client side: the metrics and spans of a failover through real nodes (a SQLite
 * lease, the dev balancer, the JSON-RPC client), the node's SERVER span continuing the client's
 * trace, and no credential in anything recorded.
 */
import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { ConnectionFailureException, RemoteCallException, createClient, createPolicy, type HotcoldClient, type Policy } from 'hotcold';
import { ledgerApp, startDevBalancer, type DevBalancer } from 'hotcold/testing';
import { fixture, startNode, until, uniq, type Fixture } from '../node/support.js';
import { activeTelemetry } from '../../src/observability/enabled.js';
import { everythingRecorded, installTelemetry, points, total, type Telemetry } from './support.js';

let telemetry: Telemetry | undefined;
let f: Fixture | undefined;
let balancer: DevBalancer | undefined;
let client: HotcoldClient | undefined;
let policy: Policy | undefined;

afterEach(async () => {
  await client?.close();
  client = undefined;
  await policy?.close();
  policy = undefined;
  await balancer?.close();
  balancer = undefined;
  await f?.cleanup();
  f = undefined;
  await telemetry?.uninstall();
  telemetry = undefined;
});

const URL_PASSWORD = 'Pa55wordInUrl';
const API_KEY = 'ApiKeyS3cretValue';

/** A port nothing listens on yet (the standby starts on it later). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0));
    });
  });
}

describe('client telemetry through a failover', () => {
  it('records attempts by outcome, retries, held calls, the outage and one client span per call that the node continues', async () => {
    telemetry = installTelemetry();
    const t = telemetry;
    f = fixture();
    const app = ledgerApp({ prefix: `lg_${uniq()}` });
    const a = await startNode(f, 'alpha', { handlers: app.handlers, waitInterval: 300 });
    await app.setup(a.store);
    await until(() => a.node.status === 'active', 15_000, 'alpha active');
    const betaPort = await freePort();
    const betaUrl = `http://127.0.0.1:${betaPort}`;
    balancer = await startDevBalancer({ backends: [a.url, betaUrl], checkIntervalMs: 50 });
    const withPassword = balancer.url.replace('http://', `http://svc:${URL_PASSWORD}@`);
    client = createClient({
      url: withPassword,
      headers: { 'X-Api-Key': API_KEY },
      retry: { maxAttempts: 50, minDelayMs: 10, maxDelayMs: 100 },
      budget: false,
      deadlineMs: 60_000,
      methods: { balance: { idempotent: true } },
      // Metrics through the option, spans through the global provider (the node uses that one too).
      telemetry: { meterProvider: t.meterProvider },
    });

    const failovers: string[] = [];
    const failoverSub = client.events$.subscribe((e) => {
      if (e.type === 'failover') failovers.push(`${e.from.node ?? '?'} -> ${e.to.node ?? '?'}`);
    });
    expect(await client.call('balance', { account: 'x' })).toEqual({ account: 'x', balance: 0 });

    // The active node goes away and nothing serves: the next call is held until one does.
    await a.node.stop();
    const caller = trace.getTracer('test');
    const held = caller.startActiveSpan('caller', (span) =>
      (client as HotcoldClient).call('balance', { account: 'y' }).finally(() => span.end()),
    );
    await until(async () => total((await t.collect()).get('hotcold.client.held_calls')) >= 1, 30_000, 'a held call');
    const b = await startNode(f, 'beta', { handlers: app.handlers, waitInterval: 300, port: betaPort });
    expect(await held).toEqual({ account: 'y', balance: 0 });
    // Service came back on beta: the client failed over to it. Not beta's status now: with waitInterval 300 a loaded machine can lapse its lease right after.
    expect(failovers, b.node.status).toContain('alpha -> beta');
    failoverSub.unsubscribe();
    expect(await client.call('balance', { account: 'z' })).toEqual({ account: 'z', balance: 0 });

    const m = await t.collect();
    const backend = balancer.url;
    // Attempts: the successes, and the failures of the outage with their kind and may-have-executed.
    const attempts = points(m.get('hotcold.client.attempts'));
    expect(total(m.get('hotcold.client.attempts'), { 'hotcold.outcome': 'success', 'rpc.method': 'balance', 'hotcold.backend': backend })).toBe(3);
    const failed = attempts.filter((p) => p.attributes['hotcold.outcome'] !== 'success');
    expect(failed.length).toBeGreaterThan(0);
    for (const p of failed) {
      expect(['connection-failure', 'unknown-outcome', 'circuit-open']).toContain(p.attributes['hotcold.outcome']);
      expect(typeof p.attributes['hotcold.may_have_executed']).toBe('boolean');
      expect(p.attributes['hotcold.backend']).toBe(backend);
    }
    // Calls: three, all succeeded (and so executed).
    expect(total(m.get('hotcold.client.calls'), { 'hotcold.outcome': 'success', 'hotcold.may_have_executed': true })).toBe(3);
    expect(total(m.get('rpc.client.call.duration'), { 'rpc.method': 'balance' })).toBe(3);
    expect(m.get('rpc.client.call.duration')?.descriptor.unit).toBe('s');
    // Retries by reason, the hold (empty again), the outage that ended with service back.
    expect(total(m.get('hotcold.client.retries'), { 'rpc.method': 'balance' })).toBeGreaterThan(0);
    for (const p of points(m.get('hotcold.client.retries'))) expect(['idempotent', 'not-executed', 'circuit-wait']).toContain(p.attributes['hotcold.retry.reason']);
    expect(total(m.get('hotcold.client.held_calls'))).toBe(0);
    expect(total(m.get('hotcold.client.outage.duration'), { 'hotcold.outage.outcome': 'recovered' })).toBeGreaterThanOrEqual(1);
    expect(m.get('hotcold.client.outage.duration')?.descriptor.unit).toBe('s');
    // The breaker's state per backend is observed (closed again, or whatever it is now: 0..2).
    const breaker = points(m.get('hotcold.client.breaker.state')).find((p) => p.attributes['hotcold.backend'] === backend);
    expect(breaker?.value).toBeGreaterThanOrEqual(0);

    // Spans: one CLIENT span per call; the held one is a child of the caller's span, with an
    // event per attempt (the failures carry the delay before the next one).
    const spans = t.spans();
    const callerSpan = spans.find((s) => s.name === 'caller');
    const clientSpans = spans.filter((s) => s.kind === SpanKind.CLIENT && s.name === 'balance');
    expect(clientSpans).toHaveLength(3);
    const heldSpan = clientSpans.find((s) => s.parentSpanContext?.spanId === callerSpan?.spanContext().spanId);
    expect(heldSpan).toBeDefined();
    if (heldSpan === undefined || callerSpan === undefined) return;
    expect(heldSpan.spanContext().traceId).toBe(callerSpan.spanContext().traceId);
    expect(heldSpan.attributes['rpc.method']).toBe('balance');
    expect(heldSpan.attributes['hotcold.outcome']).toBe('success');
    expect(heldSpan.status.code).not.toBe(SpanStatusCode.ERROR);
    const events = heldSpan.events.filter((e) => e.name === 'hotcold.attempt');
    expect(events.length).toBeGreaterThanOrEqual(2);
    expect(events.length).toBe(heldSpan.attributes['hotcold.attempts']);
    expect(events.map((e) => e.attributes?.['hotcold.attempt'])).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)?.attributes?.['hotcold.outcome']).toBe('success');
    const first = events[0]?.attributes ?? {};
    expect(first['hotcold.outcome']).not.toBe('success');
    expect(typeof first['hotcold.retry.delay_ms']).toBe('number');
    expect(typeof first['hotcold.retry.reason']).toBe('string');

    // The node's SERVER span continues the client's trace: same trace id, the client span as parent.
    const served = spans.filter((s) => s.kind === SpanKind.SERVER && s.spanContext().traceId === heldSpan.spanContext().traceId);
    expect(served.length).toBeGreaterThanOrEqual(1);
    const answered = served.find((s) => s.name === 'balance' && s.attributes['http.response.status_code'] === 200);
    expect(answered?.parentSpanContext?.spanId).toBe(heldSpan.spanContext().spanId);

    // No credential anywhere: not the URL's password, not the API key header.
    const recorded = everythingRecorded(m, spans);
    expect(recorded).not.toContain(URL_PASSWORD);
    expect(recorded).not.toContain(API_KEY);
    expect(recorded).not.toContain('svc:');
  }, 120_000);
});

describe('policy telemetry without a network', () => {
  it('breaker transitions and state, budget refusals and a failed call span, with credentials in the backend key redacted', async () => {
    telemetry = installTelemetry();
    const t = telemetry;
    const backend = 'https://user:KeyPassw0rd@api.example.test/v1?access_token=QueryT0kenSecret&sig=Sig5ecretValue';
    policy = createPolicy({
      backends: backend,
      retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 2 },
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 10, whenOpen: 'fail', resetTimeoutMs: 60_000 },
      budget: { ratio: 0, minRetriesPerSecond: 0.1, ttlMs: 10_000 },
      methods: { op: { idempotent: true }, busy: { retryOnCodes: [42] } },
      telemetry: { meterProvider: t.meterProvider, tracerProvider: t.tracerProvider },
    });
    // A server that answers "busy, try again" (no outage): the retries draw from the budget.
    const busy = (): never => {
      throw new RemoteCallException(42, 'busy', undefined, { method: 'busy' });
    };
    await expect(policy.execute(busy, { name: 'busy' })).rejects.toBeDefined();
    // A backend that refuses connections: the breaker opens.
    const failing = (): never => {
      throw new ConnectionFailureException('refused', { method: 'op' });
    };
    for (let i = 0; i < 4; i++) await expect((policy).execute(failing, { name: 'op' })).rejects.toBeDefined();

    const m = await t.collect();
    const key = 'https://api.example.test/v1';
    expect(total(m.get('hotcold.client.breaker.transitions'), { 'hotcold.backend': key, 'hotcold.breaker.state': 'open' })).toBeGreaterThanOrEqual(1);
    expect(points(m.get('hotcold.client.breaker.state')).find((p) => p.attributes['hotcold.backend'] === key)?.value).toBe(2);
    expect(total(m.get('hotcold.client.budget.refusals'), { 'rpc.method': 'busy' })).toBe(1);
    expect(total(m.get('hotcold.client.retries'), { 'rpc.method': 'busy', 'hotcold.retry.reason': 'retry-on-code' })).toBe(1);
    expect(total(m.get('hotcold.client.attempts'), { 'rpc.method': 'busy', 'hotcold.outcome': 'remote-call', 'hotcold.may_have_executed': true })).toBe(2);
    expect(total(m.get('hotcold.client.attempts'), { 'hotcold.outcome': 'connection-failure', 'hotcold.may_have_executed': false })).toBeGreaterThanOrEqual(1);
    const failedCalls = points(m.get('hotcold.client.calls')).filter((p) => p.attributes['hotcold.outcome'] !== 'success');
    expect(failedCalls.reduce((n, p) => n + p.value, 0)).toBe(5);
    // The calls counter has the documented attributes only (error.type is the duration's).
    for (const p of failedCalls) expect(Object.keys(p.attributes).sort()).toEqual(['hotcold.may_have_executed', 'hotcold.outcome', 'rpc.method']);
    const duration = points(m.get('rpc.client.call.duration'));
    expect(duration.every((p) => typeof p.attributes['error.type'] === 'string')).toBe(true);

    const spans = t.spans().filter((s) => s.name === 'op');
    expect(spans).toHaveLength(4);
    for (const span of spans) {
      expect(span.kind).toBe(SpanKind.CLIENT);
      expect(span.status.code).toBe(SpanStatusCode.ERROR);
      expect(span.status.message).toBe(span.attributes['error.type']);
      expect(span.parentSpanContext).toBeUndefined();
    }
    const busySpan = t.spans().find((s) => s.name === 'busy');
    expect(busySpan?.events.map((e) => e.name)).toEqual(['hotcold.attempt', 'hotcold.attempt', 'hotcold.budget_refused']);
    expect(busySpan?.attributes['error.type']).toBe('retries-exhausted');

    const recorded = everythingRecorded(m, t.spans());
    for (const secret of ['KeyPassw0rd', 'QueryT0kenSecret', 'Sig5ecretValue', 'user:']) expect(recorded).not.toContain(secret);
  });

  it('decides at creation whether anyone collects: nothing registered and nothing given is no meter and no tracer', async () => {
    expect(activeTelemetry(undefined)).toEqual({ meter: undefined, tracer: undefined });
    telemetry = installTelemetry();
    // A tracer provider registered globally (a meter provider only when given or registered).
    const registered = activeTelemetry(undefined);
    expect(registered.tracer).toBeDefined();
    expect(registered.meter).toBeUndefined();
    expect(activeTelemetry({ meterProvider: telemetry.meterProvider }).meter).toBeDefined();
    await telemetry.uninstall();
    telemetry = undefined;
    expect(activeTelemetry(undefined)).toEqual({ meter: undefined, tracer: undefined });
  });

  it('installs no observer when no SDK is registered and none is given: nothing is recorded', async () => {
    // A provider that is never registered nor given: what a policy made now records must not reach it.
    telemetry = installTelemetry();
    trace.disable();
    const t = telemetry;
    policy = createPolicy({ methods: { op: { idempotent: true } } });
    expect(await policy.execute(() => 7, { name: 'op' })).toBe(7);
    expect(t.spans()).toHaveLength(0);
    expect((await t.collect()).size).toBe(0);
  });
});
