/**
 * Issue 10 §1: every attempt carries the W3C trace context of its call's CLIENT span to the
 * server — in `hotcold/axios` request headers and in `hotcold/grpc` metadata — against real
 * loopback servers.
 */
import * as grpc from '@grpc/grpc-js';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { attachPolicy, type AttachedPolicy } from 'hotcold/axios';
import { grpcInterceptor, type GrpcInterceptor } from '../../src/grpc/index.js';
import { startScriptedServer, type ScriptedServer } from '../axios/helpers.js';
import { callEcho, EchoClient, ok, startEchoServer, status, type EchoServer } from '../grpc/support.js';
import { installTelemetry, type Telemetry } from './support.js';

let telemetry: Telemetry | undefined;
let rest: ScriptedServer | undefined;
let echo: EchoServer | undefined;
let attached: AttachedPolicy | undefined;
let interceptor: GrpcInterceptor | undefined;
let client: InstanceType<typeof EchoClient> | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await interceptor?.close();
  interceptor = undefined;
  await attached?.detach();
  attached = undefined;
  await rest?.close();
  rest = undefined;
  await echo?.close();
  echo = undefined;
  await telemetry?.uninstall();
  telemetry = undefined;
});

/** trace id and parent span id of a `traceparent` value (version-traceid-spanid-flags). */
function parse(traceparent: unknown): { traceId: string; spanId: string } {
  expect(typeof traceparent).toBe('string');
  const [, traceId = '', spanId = ''] = String(traceparent).split('-');
  return { traceId, spanId };
}

describe('trace context propagation', () => {
  it('hotcold/axios: each attempt sends traceparent of the call span', async () => {
    telemetry = installTelemetry({ globalMeter: true });
    rest = await startScriptedServer();
    rest.script('GET', '/items/1', { kind: 'answer', status: 503, body: 'busy' }, { kind: 'answer', status: 200, body: { id: 1 } });
    const api = axios.create({ baseURL: rest.url });
    attached = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false, healthPath: false });
    const answer = await api.get('/items/1');
    expect(answer.data).toEqual({ id: 1 });
    const span = telemetry.spans().find((s) => s.kind === SpanKind.CLIENT);
    expect(span).toBeDefined();
    const sent = rest.seen.filter((r) => r.path === '/items/1');
    expect(sent).toHaveLength(2);
    for (const request of sent) expect(parse(request.headers.traceparent)).toEqual({ traceId: span?.spanContext().traceId, spanId: span?.spanContext().spanId });
    expect(span?.events.filter((e) => e.name === 'hotcold.attempt')).toHaveLength(2);
  });

  it('hotcold/grpc: each attempt sends traceparent metadata of the call span', async () => {
    telemetry = installTelemetry({ globalMeter: true });
    echo = await startEchoServer();
    echo.behave(status(grpc.status.UNAVAILABLE, 'not yet', { 'x-hotcold-error': 'NOT_EXECUTED' }), ok());
    interceptor = grpcInterceptor({ retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, breaker: false, budget: false });
    client = new EchoClient(echo.address, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
    const result = await callEcho(client, 'hello');
    expect(result.error).toBeUndefined();
    const span = telemetry.spans().find((s) => s.kind === SpanKind.CLIENT);
    expect(span).toBeDefined();
    expect(echo.seen).toHaveLength(2);
    for (const seen of echo.seen) expect(parse(seen.traceparent)).toEqual({ traceId: span?.spanContext().traceId, spanId: span?.spanContext().spanId });
  });
});
