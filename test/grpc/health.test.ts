/**
 * grpcHealthProbe speaks the standard health protocol: checked against grpc-health-check's own
 * HealthImplementation (the reference Node implementation of grpc.health.v1), and driving a
 * policy's reconnect: calls are held while the probe says NOT_SERVING and released when SERVING.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, expect, it } from 'vitest';
import { decodeHealthRequest, decodeHealthResponse, encodeHealthRequest, encodeHealthResponse, grpcHealthProbe, grpcInterceptor } from '../../src/grpc/index.js';
import { ConfigurationError } from '../../src/index.js';
import { EchoClient, callEcho, ok, startEchoServer, status } from './support.js';

const server = await startEchoServer();
const health = new HealthImplementation({ '': 'SERVING', 'test.Echo': 'NOT_SERVING' });
health.addToServer(server.server);
const bare = await startEchoServer(); // no health service
afterAll(async () => {
  await server.close();
  await bare.close();
});

function probeContext(timeoutMs = 2000): { backend: string; signal: AbortSignal; timeoutMs: number } {
  return { backend: 'default', signal: new AbortController().signal, timeoutMs };
}

it('the codec round-trips the health messages (protobuf wire format)', () => {
  expect(decodeHealthRequest(encodeHealthRequest({ service: 'ledger.Ledger' }))).toEqual({ service: 'ledger.Ledger' });
  expect(decodeHealthRequest(encodeHealthRequest({ service: '' }))).toEqual({ service: '' });
  for (const s of [0, 1, 2, 3, 300]) expect(decodeHealthResponse(encodeHealthResponse({ status: s }))).toEqual({ status: s });
  expect(() => decodeHealthResponse(Uint8Array.from([0x08]))).toThrow();
});

it('SERVING / NOT_SERVING / unknown service, as grpc-health-check answers them', async () => {
  const client = new EchoClient(server.address, grpc.credentials.createInsecure());
  expect(await grpcHealthProbe(client)(probeContext())).toMatchObject({ ok: true });
  expect(await grpcHealthProbe(client, { service: 'test.Echo' })(probeContext())).toMatchObject({ ok: false });
  expect(await grpcHealthProbe(client, { service: 'no.Such' })(probeContext())).toMatchObject({ ok: false });
  health.setStatus('', 'NOT_SERVING');
  expect(await grpcHealthProbe(() => client)(probeContext())).toMatchObject({ ok: false });
  health.setStatus('', 'SERVING');
  client.close();
});

it('a server without the health service (UNIMPLEMENTED) answered: ok; nothing listening: not ok', async () => {
  const client = new EchoClient(bare.address, grpc.credentials.createInsecure());
  expect(await grpcHealthProbe(client)(probeContext())).toMatchObject({ ok: true });
  client.close();
  const gone = await startEchoServer();
  const address = gone.address;
  await gone.close();
  const lost = new EchoClient(address, grpc.credentials.createInsecure());
  expect(await grpcHealthProbe(lost)(probeContext(500))).toMatchObject({ ok: false });
  lost.close();
});

it('bad targets are ConfigurationErrors', () => {
  expect(() => grpcHealthProbe(null as never)).toThrow(ConfigurationError);
  expect(() => grpcHealthProbe({} as never)).toThrow(/target/);
});

it('drives the reconnect: a call held while NOT_SERVING goes out once the probe says SERVING, over the client channel, bypassing the interceptor', async () => {
  health.setStatus('', 'NOT_SERVING');
  let client: InstanceType<typeof EchoClient> | undefined;
  const interceptor = grpcInterceptor({
    retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 },
    breaker: false,
    budget: false,
    reconnect: { minDelayMs: 20, maxDelayMs: 40, probeTimeoutMs: 1000 },
    maxReconnectAttempts: 1000,
    probe: grpcHealthProbe(() => client as InstanceType<typeof EchoClient>),
  });
  client = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
  const probes: boolean[] = [];
  const sub = interceptor.policy.events$.subscribe((e) => {
    if (e.type === 'probe') probes.push(e.ok);
  });
  // The first attempt finds the node not active: an outage starts, the call is held.
  server.behave(status(grpc.status.UNAVAILABLE, 'standby', { 'x-hotcold-error': 'NOT_ACTIVE' }), ok());
  const pending = callEcho(client, 'held');
  await expect.poll(() => probes.filter((p) => !p).length, { timeout: 10_000 }).toBeGreaterThanOrEqual(2);
  expect(server.seen).toHaveLength(1);
  health.setStatus('', 'SERVING');
  expect((await pending).value).toEqual({ echo: 'held' });
  expect(server.seen).toHaveLength(2);
  sub.unsubscribe();
  client.close();
  await interceptor.close();
});
