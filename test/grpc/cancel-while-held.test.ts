/**
 * The caller's cancel() of a call held while reconnecting: the caller is answered at once, and
 * the call leaves the policy's hold too. Before, it stayed there until its deadline, holding a
 * `maxPending` place: after an outage's callers had given up, every new call was refused with
 * RESOURCE_EXHAUSTED ("N calls are already waiting to reconnect") though none was waiting.
 * Real grpc-js client, a port nothing listens on, then a real server on that port.
 */
import * as grpc from '@grpc/grpc-js';
import { firstValueFrom, filter } from 'rxjs';
import { describe, expect, it } from 'vitest';
import { createPolicy, type Policy } from '../../src/index.js';
import { grpcInterceptor, rpcExceptionOf, type GrpcInterceptor } from '../../src/grpc/index.js';
import { EchoClient, callEcho, freePort, ok, startEchoServer, type EchoClientInstance } from './support.js';

const HELD = 20;

const options = (isUp: () => boolean) => ({
  // The call that starts the outage may be held too (or be in its backoff): room for it.
  maxPending: HELD + 1,
  deadlineMs: 25_000,
  maxReconnectAttempts: Infinity,
  reconnect: { minDelayMs: 20, maxDelayMs: 50 },
  probe: () => Promise.resolve(isUp()),
  breaker: false as const,
  budget: false as const,
});

async function scenario(make: (isUp: () => boolean) => { interceptor: GrpcInterceptor; policy: Policy; close: () => Promise<void> }): Promise<void> {
  const port = await freePort();
  let up = false;
  let channel: ReturnType<EchoClientInstance['getChannel']> | undefined;
  // The probe answers as a health check through the client's own channel would: up once the
  // server listens and the channel has connected to it. grpc-js keeps a refused channel in its
  // reconnect backoff for a while; calls released before it connects fail fast ("not executed")
  // and, on a loaded machine, can spend all their attempts in that time.
  const { interceptor, policy, close } = make(() => up && channel?.getConnectivityState(true) === grpc.connectivityState.READY);
  const client = new EchoClient(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
  channel = client.getChannel();
  const reconnecting = firstValueFrom(policy.state$.pipe(filter((s) => s.status === 'reconnecting')));
  const calls: grpc.ClientUnaryCall[] = [];
  const answers: Promise<grpc.ServiceError | null>[] = [];
  const start = (i: number): void => {
    answers.push(
      new Promise((resolve) => {
        calls.push((client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call(i, resolve));
      }),
    );
  };
  // The first call's refused attempt starts the outage; the others are held before any attempt.
  start(0);
  await reconnecting;
  for (let i = 1; i <= HELD; i++) start(i);
  // A probe has run (and failed) since: the first call is held again too.
  await firstValueFrom(policy.events$.pipe(filter((e) => e.type === 'probe')));
  for (const call of calls) call.cancel();
  for (const error of await Promise.all(answers)) {
    expect(error?.code).toBe(grpc.status.CANCELLED);
    expect(rpcExceptionOf(error)?.mayHaveExecuted).toBe(false);
  }
  // Two new calls after the outage's callers gave up: held, not refused for a full hold (had the
  // cancelled calls stayed, at most one place would be left).
  const fresh = [callEcho(client, 'after-1'), callEcho(client, 'after-2')];
  const server = await startEchoServer(port);
  server.behave(ok());
  up = true;
  for (const [i, result] of (await Promise.all(fresh)).entries()) {
    expect(rpcExceptionOf(result.error)?.kind).toBeUndefined();
    expect(result.value).toEqual({ echo: `after-${i + 1}` });
  }
  // The cancelled calls were never sent.
  expect(server.seen.map((s) => s.request).sort()).toEqual(['after-1', 'after-2']);
  client.close();
  await close();
  await server.close();
}

describe("the caller's cancel() of calls held while reconnecting", () => {
  it("the interceptor's own policy: they leave the hold (maxPending), a new call is held and answered", async () => {
    await scenario((isUp) => {
      const interceptor = grpcInterceptor(options(isUp));
      return { interceptor, policy: interceptor.policy, close: () => interceptor.close() };
    });
  });

  it('a policy passed in: the same', async () => {
    await scenario((isUp) => {
      const policy = createPolicy(options(isUp));
      return { interceptor: grpcInterceptor(policy), policy, close: () => policy.close() };
    });
  });
});
