/**
 * The caller's cancel() of a call that waits in the hold before it may be sent again: its
 * attempt may have run (a non-idempotent call, a keyed repeat), so the policy first asks who
 * serves now (dedup proof); no active node answers, so the call waits for service to come back.
 * That wait is a hold like any other: a cancelled call must leave it, not keep its `maxPending`
 * place (and its wait) until its deadline.
 */
import * as grpc from '@grpc/grpc-js';
import { firstValueFrom, filter } from 'rxjs';
import { afterAll, describe, expect, it } from 'vitest';
import { grpcInterceptor, rpcExceptionOf } from '../../src/grpc/index.js';
import { EchoClient, callEcho, ok, startEchoServer, status } from './support.js';

const METHOD = '/test.Echo/Call';
const server = await startEchoServer();
afterAll(() => server.close());

describe("the caller's cancel() of a call held while the policy looks for dedup proof", () => {
  it('leaves the hold: a new call is held (not refused for a full hold) and answered', async () => {
    let up = false;
    const interceptor = grpcInterceptor({
      maxPending: 1,
      deadlineMs: 25_000,
      retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
      maxReconnectAttempts: Infinity,
      reconnect: { minDelayMs: 20, maxDelayMs: 50 },
      probe: () => Promise.resolve(up ? { ok: true, node: 'node-a', epoch: 1, dedup: true } : false),
      breaker: false,
      budget: false,
      methods: { [METHOD]: { idempotent: false } },
    });
    const policy = interceptor.policy;
    const events: string[] = [];
    policy.events$.subscribe((e) => events.push(e.type));
    const client = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
    // Attempt 1 may have run (a server's UNAVAILABLE): a repeat needs proof; no node answers the ask.
    server.behave(status(grpc.status.UNAVAILABLE, 'overloaded'));
    let call: grpc.ClientUnaryCall | undefined;
    const answer = new Promise<grpc.ServiceError | null>((resolve) => {
      call = (client as unknown as { call: (r: unknown, cb: (e: grpc.ServiceError | null) => void) => grpc.ClientUnaryCall }).call('first', resolve);
    });
    await firstValueFrom(policy.state$.pipe(filter((s) => s.status === 'reconnecting')));
    await firstValueFrom(policy.events$.pipe(filter((e) => e.type === 'probe')));
    call?.cancel();
    const error = await answer;
    expect(error?.code).toBe(grpc.status.CANCELLED);
    // A new call while no node answers: held (the cancelled one left its place), then answered.
    const fresh = callEcho(client, 'after');
    await firstValueFrom(policy.events$.pipe(filter((e) => e.type === 'probe')));
    server.behave(ok());
    up = true;
    const result = await fresh;
    expect(rpcExceptionOf(result.error)?.kind, `${result.error?.message} events: ${events.join(',')}`).toBeUndefined();
    expect(result.value).toEqual({ echo: 'after' });
    expect(server.seen.map((s) => s.request)).toEqual(['after']);
    client.close();
    await interceptor.close();
  });
});
