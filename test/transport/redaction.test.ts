/**
 * With basic auth, a bearer token and a URL carrying userinfo configured, no credential appears in
 * any error the transport can be made to throw: message, stack, toJSON(), util.inspect(), cause.
 */
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RPCException } from 'hotcold';
import { startFaultServer, type FaultMode, type FaultServer } from 'hotcold/testing';
import { createAxiosTransport, type AxiosTransport } from '../../src/transport/index.js';
import type { TransportRequest } from '../../src/transport/types.js';
import { callOf } from './support.js';

const PASSWORD = 'pa55-w0rd-Zq9';
const BEARER = 'tok-SECRET-4f1e2d';
const URL_PASSWORD = 'url-pass-7731';
const BASIC = Buffer.from(`alice:${PASSWORD}`).toString('base64');
const URL_BASIC = Buffer.from(`bob:${URL_PASSWORD}`).toString('base64');
const SECRETS = [PASSWORD, BEARER, URL_PASSWORD, BASIC, URL_BASIC];

let server: FaultServer;
let deadServer: FaultServer;

beforeAll(async () => {
  server = await startFaultServer();
  deadServer = await startFaultServer();
  await deadServer.refuse();
});
afterAll(async () => {
  await server.close();
  await deadServer.close();
});

function renderings(error: RPCException): string[] {
  const cause = error.cause as Error | undefined;
  return [
    error.message,
    error.stack ?? '',
    JSON.stringify(error.toJSON()),
    inspect(error, { depth: 10 }),
    String(error),
    cause === undefined ? '' : `${cause.message}\n${cause.stack ?? ''}\n${inspect(cause, { depth: 10 })}`,
  ];
}

function expectClean(error: unknown): void {
  expect(error).toBeInstanceOf(RPCException);
  for (const text of renderings(error as RPCException)) {
    for (const secret of SECRETS) expect(text).not.toContain(secret);
  }
}

interface Setup {
  name: string;
  transport: () => AxiosTransport;
  baseUrl: (s: FaultServer) => string;
  expectedAuthorization: string;
  /** This transport's own literal secret (secrets are scoped to the transport given them). */
  secret: string;
}

const setups: Setup[] = [
  {
    name: 'basic auth',
    transport: () => createAxiosTransport({ auth: { username: 'alice', password: PASSWORD }, maxResponseBytes: 2048 }),
    baseUrl: (s) => s.url,
    expectedAuthorization: `Basic ${BASIC}`,
    secret: PASSWORD,
  },
  {
    name: 'bearer token',
    transport: () => createAxiosTransport({ auth: { bearer: BEARER }, maxResponseBytes: 2048 }),
    baseUrl: (s) => s.url,
    expectedAuthorization: `Bearer ${BEARER}`,
    secret: BEARER,
  },
  {
    name: 'userinfo in the URL',
    transport: () => createAxiosTransport({ maxResponseBytes: 2048 }),
    baseUrl: (s) => s.url.replace('http://', `http://bob:${URL_PASSWORD}@`),
    expectedAuthorization: `Basic ${URL_BASIC}`,
    secret: URL_PASSWORD,
  },
];

const modes: FaultMode[] = [
  'reset-on-accept',
  'reset-after-request',
  'balancer-503',
  'not-active',
  '502',
  '504',
  'stall',
  'headers-then-silence',
  'truncated',
  'garbage',
  'not-jsonrpc',
  'id-mismatch',
  { mode: 'huge', bytes: 10_000 },
  'rpc-error',
  'unauthorized',
  'forbidden',
];

describe.each(setups)('no credential leaks with $name', (setup) => {
  let transport: AxiosTransport;
  beforeAll(() => {
    server.clearQueue();
    transport = setup.transport();
  });
  afterAll(async () => {
    await transport.close();
  });

  const send = (s: FaultServer, overrides: Partial<TransportRequest> = {}): Promise<unknown> =>
    transport.send(callOf(s, { baseUrl: setup.baseUrl(s), timeoutMs: 300, ...overrides })).then(
      () => {
        throw new Error('expected a failure');
      },
      (error: unknown) => error,
    );

  it('sends the credential (so there is something to leak)', async () => {
    await transport.send(callOf(server, { baseUrl: setup.baseUrl(server) }));
    expect(server.requests.at(-1)?.authorization).toBe(setup.expectedAuthorization);
  });

  it('in every fault mode', async () => {
    const kinds = new Set<string>();
    for (const mode of modes) {
      server.enqueue(mode);
      const error = await send(server);
      expectClean(error);
      kinds.add((error as RPCException).kind);
    }
    expect([...kinds].sort()).toEqual(['authentication', 'connection-failure', 'protocol', 'remote-call', 'unknown-outcome']);
  });

  it('on connection refused, abort, close and a failed health probe', async () => {
    expectClean(await send(deadServer));
    const aborted = new AbortController();
    aborted.abort(new Error(`aborted with ${setup.secret}`));
    expectClean(await send(server, { signal: aborted.signal }));
    await expect(transport.health(setup.baseUrl(deadServer), { timeoutMs: 500 })).rejects.toSatisfy((e: unknown) => {
      expectClean(e);
      return true;
    });
    const closing = setup.transport();
    server.enqueue('stall');
    const pending = closing.send(callOf(server, { baseUrl: setup.baseUrl(server) })).catch((e: unknown) => e);
    await server.nextRequest();
    await closing.close();
    const closed = await pending;
    expect((closed as RPCException).kind).toBe('client-closed');
    expectClean(closed);
  });
});
