/**
 * A deadline far away is sent as one a grpc-js server can read. grpc-js's server reads
 * `grpc-timeout` into a 32-bit integer, so above 2^31−1 ms (~24.8 days) it wrapped: a 30-day
 * deadline (the caller's, or the policy's `deadlineMs`) arrived as one already passed, and the
 * server ended the call DEADLINE_EXCEEDED. Past ~11 000 years grpc-js's client could not encode it
 * at all: it threw where nobody caught it (an unhandled rejection) and the call hung until its
 * attempt timed out, "may have run" though nothing was sent. Each attempt and health probe now
 * goes out with at most 24 days; the policy still ends the call at its own deadline.
 */
import * as grpc from '@grpc/grpc-js';
import { HealthImplementation } from 'grpc-health-check';
import { afterAll, describe, expect, it } from 'vitest';
import { grpcHealthProbe } from '../../src/grpc/index.js';
import { EchoClient, QUICK_POLICY, callEcho, interceptedClients, ok, startEchoServer } from './support.js';

const DAY = 24 * 3600 * 1000;
const server = await startEchoServer();
new HealthImplementation({ '': 'SERVING' }).addToServer(server.server);
afterAll(() => server.close());
const clients = interceptedClients();

describe('a deadline beyond what grpc-js can carry', () => {
  it("the caller's deadline 30 days or 285 000 years away reaches the server as ~24 days, and the call is answered", async () => {
    // The call ends at the earlier of the caller's deadline and the policy's: the policy's is
    // further still here, so the caller's is the one sent.
    const { client } = clients.make(server.address, { ...QUICK_POLICY, deadlineMs: Number.MAX_SAFE_INTEGER });
    for (const deadline of [new Date(Date.now() + 30 * DAY), Number.MAX_SAFE_INTEGER]) {
      server.behave(ok());
      const { value, error } = await callEcho(client, { n: 1 }, { deadline });
      expect(error, String(deadline)).toBeUndefined();
      expect(value).toEqual({ echo: { n: 1 } });
      expect(server.seen).toHaveLength(1);
      expect(server.seen[0]?.deadlineLeftMs, String(deadline)).toBeGreaterThan(23 * DAY);
    }
  });

  it("the policy's deadlineMs of 30 days reaches the server as ~24 days: a handler that takes a moment is not cut off", async () => {
    const { client } = clients.make(server.address, { ...QUICK_POLICY, deadlineMs: 30 * DAY });
    // Answers a little later: time for a deadline the server read as passed to end the call first.
    server.behave((call, callback, index) => void setTimeout(() => ok()(call, callback, index), 100));
    const { value, error } = await callEcho(client, { n: 2 });
    expect(error?.message).toBeUndefined();
    expect(value).toEqual({ echo: { n: 2 } });
    expect(server.seen[0]?.deadlineLeftMs).toBeGreaterThan(23 * DAY);
  });

  it('a health probe given a timeout past what grpc-js can encode still answers', async () => {
    const client = new EchoClient(server.address, grpc.credentials.createInsecure());
    clients.onCleanup(() => client.close());
    const probe = grpcHealthProbe(client);
    expect(await probe({ backend: 'default', signal: new AbortController().signal, timeoutMs: Number.MAX_SAFE_INTEGER })).toMatchObject({ ok: true });
  });
});
