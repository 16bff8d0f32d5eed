/**
 * A call's `parent` that is not a grpc-js server call (a plain object, one without `getDeadline`
 * or without `on` while CANCELLATION is propagated) is the caller's bug: a ConfigurationError
 * naming parent, nothing sent. Before (found attacking f8dae08), grpc-js threw a TypeError inside
 * every attempt (it calls parent.getDeadline() and parent.on('cancelled')), which the policy took
 * for a backend failure: retried, then reconnecting and "maxReconnectAttempts spent" — an outage
 * announced, for every caller, of a backend that answered the same call without the parent.
 * Real loopback grpc-js server; both the interceptor's own policy and a policy passed in.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, describe, expect, it } from 'vitest';
import { createPolicy, type ConnectionState } from '../../src/index.js';
import { rpcExceptionOf, type GrpcInterceptorOptions } from '../../src/grpc/index.js';
import { ECHO_METHOD, callEcho, interceptedClients, ok, startEchoServer, type EchoClientInstance } from './support.js';

const backend = await startEchoServer();
const clients = interceptedClients();
afterAll(async () => {
  await backend.close();
});

const OPTIONS = {
  retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
  maxReconnectAttempts: 1,
  reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  deadlineMs: 20_000,
  methods: { [ECHO_METHOD]: { idempotent: true } },
} as const satisfies GrpcInterceptorOptions;

const policies: [string, () => { client: EchoClientInstance; state: () => ConnectionState }][] = [
  [
    "the interceptor's own policy",
    () => {
      const { client, interceptor } = clients.make(backend.address, OPTIONS);
      return { client, state: () => interceptor.policy.state };
    },
  ],
  [
    'a policy passed in',
    () => {
      const policy = createPolicy(OPTIONS);
      clients.onCleanup(() => policy.close());
      const { client } = clients.make(backend.address, policy);
      return { client, state: () => policy.state };
    },
  ],
];

const noop = (): undefined => undefined;

describe.each(policies)('a parent that is not a server call (%s)', (_label, make) => {
  it('is a ConfigurationError naming parent: nothing sent, no outage announced', async () => {
    backend.behave(ok());
    const { client, state } = make();
    expect((await callEcho(client, { n: 0 })).error).toBeUndefined();
    const before = backend.seen.length;
    const parents: [string, unknown, number | undefined][] = [
      ['{}', {}, undefined],
      ['no on', { getDeadline: () => Infinity }, undefined],
      ['no getDeadline', { on: noop, removeListener: noop }, undefined],
      ['a string', 'call', undefined],
      ['no getDeadline, DEADLINE only', { on: noop }, grpc.propagate.DEADLINE],
    ];
    for (const [label, parent, flags] of parents) {
      const { error, value } = await callEcho(client, { n: 1 }, { parent: parent as never, ...(flags === undefined ? {} : { propagate_flags: flags }) });
      expect(value, label).toBeUndefined();
      const reason = rpcExceptionOf(error);
      expect(reason?.mayHaveExecuted, label).toBe(false);
      expect((reason?.cause as Error | undefined)?.name, label).toBe('ConfigurationError');
      expect(reason?.message, label).toMatch(/not sent: invalid option parent:/);
    }
    expect(backend.seen.length).toBe(before);
    expect(['connecting', 'connected']).toContain(state().status);
    // What grpc-js does not read is not asked for: no `on` without CANCELLATION, no `getDeadline` without DEADLINE.
    for (const [parent, flags] of [
      [{ getDeadline: () => Infinity }, grpc.propagate.DEADLINE],
      [{ on: noop, removeListener: noop }, grpc.propagate.CANCELLATION],
      [{}, 0],
    ] as const) {
      const { error } = await callEcho(client, { n: 2 }, { parent: parent as never, propagate_flags: flags });
      expect(error?.message, String(flags)).toBeUndefined();
    }
  });
});
