/**
 * A call whose caller-given deadline has already passed when it begins is not sent: it ends with
 * DEADLINE_EXCEEDED, "not executed", no attempt made, and the caller hears so asynchronously
 * (after the call returned), as of any call. Before, the passed deadline became a 1 ms one and an
 * attempt went out: the call could run on the server while the caller was told only "maybe".
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { rpcExceptionOf } from '../../src/grpc/index.js';
import { ECHO_METHOD, QUICK_POLICY, callEcho, interceptedClients, ok, startEchoServer } from './support.js';

const server = await startEchoServer();
afterAll(() => server.close());
const clients = interceptedClients();

describe('a caller deadline already passed', () => {
  it('is not sent: DEADLINE_EXCEEDED, not executed, no attempt', async () => {
    server.behave(ok());
    const made = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } });
    let attempts = 0;
    made.interceptor.policy.events$.subscribe((event) => {
      if (event.type === 'attempt') attempts++;
    });
    // A live call first: the channel is connected, so only the deadline can keep the next one off the wire.
    expect((await callEcho(made.client, { n: 0 })).error).toBeUndefined();
    const before = server.seen.length;
    const { error } = await callEcho(made.client, { n: 1 }, { deadline: Date.now() - 1000 });
    expect(error?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const reason = rpcExceptionOf(error);
    expect(reason?.kind).toBe('deadline-exceeded');
    expect(reason?.mayHaveExecuted, reason?.message).toBe(false);
    expect(attempts).toBe(1);
    expect(server.seen.length).toBe(before);
  });

  it('-Infinity and the far past are passed too: not sent, not a call without a deadline', async () => {
    server.behave(ok());
    const made = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } });
    expect((await callEcho(made.client, { n: 0 })).error).toBeUndefined();
    const before = server.seen.length;
    for (const deadline of [-Infinity, Number.MIN_SAFE_INTEGER]) {
      const { error } = await callEcho(made.client, { n: 1 }, { deadline });
      expect(error?.code, String(deadline)).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(rpcExceptionOf(error)?.mayHaveExecuted, String(deadline)).toBe(false);
    }
    expect(server.seen.length).toBe(before);
  });

  it('tells the caller after the call returned, not inside it', async () => {
    server.behave(ok());
    const { client } = clients.make(server.address, QUICK_POLICY);
    let returned = false;
    const done = new Promise<boolean>((resolve) => {
      (client as unknown as { call: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: () => void) => void }).call({ n: 2 }, new grpc.Metadata(), { deadline: new Date(Date.now() - 1) }, () =>
        resolve(returned),
      );
    });
    returned = true;
    expect(await done).toBe(true);
  });
});
