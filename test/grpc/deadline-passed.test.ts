/**
 * A call whose caller-given deadline has already passed when it begins is not sent: it ends with
 * DEADLINE_EXCEEDED, "not executed", no attempt made, and the caller hears so asynchronously
 * (after the call returned), as of any call. Before, the passed deadline became a 1 ms one and an
 * attempt went out: the call could run on the server while the caller was told only "maybe".
 * A deadline that is no time at all (NaN, an invalid Date, a string) is refused the same way, not
 * sent, instead of going out as a call with no deadline of the caller's.
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

  it('a deadline that is no time (NaN, an invalid Date, a string) is a ConfigurationError naming deadline: not sent, not a call without a deadline', async () => {
    server.behave(ok());
    const made = clients.make(server.address, { ...QUICK_POLICY, methods: { [ECHO_METHOD]: { idempotent: false } } });
    expect((await callEcho(made.client, { n: 0 })).error).toBeUndefined();
    const before = server.seen.length;
    for (const deadline of [Number.NaN, new Date(Number.NaN), '5000', 'soon']) {
      const { error, value } = await callEcho(made.client, { n: 1 }, { deadline: deadline as never });
      expect(value, String(deadline)).toBeUndefined();
      const reason = rpcExceptionOf(error);
      expect(reason?.mayHaveExecuted, String(deadline)).toBe(false);
      // The cause is a sanitized copy of the ConfigurationError (errors.ts: never the raw object).
      expect((reason?.cause as Error | undefined)?.name, String(deadline)).toBe('ConfigurationError');
      expect(reason?.message, String(deadline)).toMatch(/not sent: invalid option deadline:/);
    }
    expect(server.seen.length).toBe(before);
    // undefined, null and Infinity stay "none", as grpc-js reads them.
    for (const deadline of [undefined, null, Infinity]) {
      expect((await callEcho(made.client, { n: 2 }, { deadline: deadline as never })).error, String(deadline)).toBeUndefined();
    }
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
