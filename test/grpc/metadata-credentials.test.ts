/**
 * A server that quotes the caller's credential metadata in its status details ("denied for key
 * k-…") must not put them into the call's error, its events or its log records: the
 * interceptor scrubs the values of the call's credential-named metadata (`authorization`,
 * `x-api-key`, a session cookie) from what the server sent. Real grpc-js server and client.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import { grpcInterceptor, rpcExceptionOf, type GrpcInterceptor } from '../../src/grpc/index.js';
import { callEcho, EchoClient, identity, type Behaviour, type EchoServer, startEchoServer } from './support.js';

let echo: EchoServer | undefined;
let interceptor: GrpcInterceptor | undefined;
let client: InstanceType<typeof EchoClient> | undefined;

afterEach(async () => {
  client?.close();
  client = undefined;
  await interceptor?.close();
  interceptor = undefined;
  await echo?.close();
  echo = undefined;
});

const API_KEY = 'k-8f7e6d5c4b3a';
const BEARER = 'bt-0a1b2c3d4e5f';
const SESSION = 'sess-99aa88bb77';

/** Fails every call quoting the caller's metadata; `NOT_EXECUTED` first, so the call is retried (events, logs). */
function quoting(nodeError: string): Behaviour {
  return (call, callback) => {
    const quoted = ['x-api-key', 'authorization', 'x-session'].map((k) => String(call.metadata.get(k)[0])).join(' / ');
    const md = identity();
    md.set('x-hotcold-error', nodeError);
    callback({ code: grpc.status.UNAVAILABLE, details: `denied for ${quoted}`, metadata: md });
  };
}

describe('gRPC credential metadata quoted by the server', () => {
  it('reaches neither the error, the events nor the log records', async () => {
    echo = await startEchoServer();
    echo.behave(quoting('NOT_EXECUTED'), quoting('COMMIT_UNKNOWN'));
    const records: string[] = [];
    const write = (obj: object, msg?: string): void => void records.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
    interceptor = grpcInterceptor({
      logger: { debug: write, info: write, warn: write, error: write },
      retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
      breaker: false,
      budget: false,
      deadlineMs: 5000,
    });
    const events: unknown[] = [];
    interceptor.policy.events$.subscribe((event) => events.push(event));
    client = new EchoClient(echo.address, grpc.credentials.createInsecure(), { interceptors: [interceptor] });
    const metadata = new grpc.Metadata();
    metadata.set('x-api-key', API_KEY);
    metadata.set('authorization', `Bearer ${BEARER}`);
    metadata.set('x-session', SESSION);
    const result = await callEcho(client, 'hello', {}, metadata);
    expect(result.error).toBeDefined();
    const reason = rpcExceptionOf(result.error);
    expect(reason?.kind).toBe('unknown-outcome');
    expect(echo.seen.length).toBeGreaterThanOrEqual(2);
    expect(events.some((e) => (e as { type?: string }).type === 'retry')).toBe(true);
    const seen = [String(result.error), JSON.stringify(result.error), String(reason), JSON.stringify(reason), String((reason?.cause as Error | undefined)?.message), JSON.stringify(events), ...records].join('\n');
    expect(seen).toContain('denied for');
    for (const secret of [API_KEY, BEARER, SESSION]) expect(seen).not.toContain(secret);
  });
});
