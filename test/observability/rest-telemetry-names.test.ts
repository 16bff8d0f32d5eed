/**
 * A REST request that matches no route is named `'<METHOD> <path>'` in errors and events, but its
 * path is request data (ids, signed-URL tokens): telemetry records such a request under its HTTP
 * method alone, so that callers cannot mint a metric series per request nor put a path-borne
 * credential into a metric attribute or span name. Real loopback server, real SDK in memory.
 */
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { SpanKind } from '@opentelemetry/api';
import { attachPolicy, type AttachedPolicy } from 'hotcold/axios';
import { startScriptedServer, type ScriptedServer } from '../axios/helpers.js';
import { everythingRecorded, installTelemetry, points, type Telemetry } from './support.js';

let telemetry: Telemetry | undefined;
let rest: ScriptedServer | undefined;
let attached: AttachedPolicy | undefined;

afterEach(async () => {
  await attached?.detach();
  attached = undefined;
  await rest?.close();
  rest = undefined;
  await telemetry?.uninstall();
  telemetry = undefined;
});

describe('REST telemetry names', () => {
  it('records a routed request under its route and an unrouted one under its HTTP method only', async () => {
    telemetry = installTelemetry({ globalMeter: true });
    rest = await startScriptedServer();
    const api = axios.create({ baseURL: rest.url });
    attached = attachPolicy(api, { routes: { 'GET /accounts/:id': { idempotent: true } }, breaker: false, budget: false, healthPath: false });
    for (let i = 0; i < 5; i++) await api.get(`/users/${i}`);
    await api.get('/accounts/A1');
    await api.get('/download/tok-9f8e7d6c5b4a?sig=abcdef123456');
    await api.post('/password-reset/rst-0a1b2c3d4e5f', { x: 1 });

    const collected = await telemetry.collect();
    const methods = new Set(points(collected.get('hotcold.client.calls')).map((p) => p.attributes['rpc.method']));
    expect([...methods].sort()).toEqual(['GET', 'GET /accounts/:id', 'POST']);
    const spans = telemetry.spans().filter((s) => s.kind === SpanKind.CLIENT);
    expect(new Set(spans.map((s) => s.name))).toEqual(new Set(['GET', 'GET /accounts/:id', 'POST']));
    const recorded = everythingRecorded(collected, telemetry.spans());
    for (const secret of ['tok-9f8e7d6c5b4a', 'abcdef123456', 'rst-0a1b2c3d4e5f', '/users/3']) expect(recorded).not.toContain(secret);
  });
});
