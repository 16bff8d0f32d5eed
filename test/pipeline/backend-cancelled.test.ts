/**
 * A cancellation the caller did not ask for is no CallAborted: a gRPC `CANCELLED` sent by the
 * server (or by a proxy resetting the stream: HTTP/2 RST_STREAM CANCEL reads as CANCELLED in
 * grpc-js) came from the backend's side. With createPolicy around a raw grpc-js client, the
 * default classifier said CallAborted for it, the pipeline took it for the caller's own abort:
 * the call was not retried (an idempotent one ended CallAborted on a live backend), nothing was
 * told to the connection monitor or the breaker. Now it is an outcome unknown (maybe run; not run
 * when the adapter reported `written: false`). Real loopback grpc-js server.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach, expect, it } from 'vitest';
import { CallAbortedException, createPolicy, UnknownOutcomeException, type AttemptContext, type Policy } from 'hotcold';
import { EchoClient, ok, startEchoServer, status, type EchoServer } from '../grpc/support.js';

let policy: Policy | undefined;
let server: EchoServer | undefined;
let client: InstanceType<typeof EchoClient> | undefined;

afterEach(async () => {
  await policy?.close();
  policy = undefined;
  client?.close();
  client = undefined;
  await server?.close();
  server = undefined;
});

/** One unary call with the attempt's signal wired to grpc-js's cancel(), as a user would write it. */
const echo =
  (c: InstanceType<typeof EchoClient>) =>
  ({ signal }: AttemptContext): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const call = c.makeUnaryRequest('/test.Echo/Call', (v: unknown) => Buffer.from(JSON.stringify(v)), (b: Buffer) => JSON.parse(b.toString()) as unknown, { n: 1 }, (error, value) => (error ? reject(error) : resolve(value)));
      signal.addEventListener('abort', () => call.cancel(), { once: true });
    });

it("the server's (or a proxy's) CANCELLED is not the caller's abort: an idempotent call is retried and answered", async () => {
  server = await startEchoServer();
  server.behave(status(grpc.status.CANCELLED, 'stream reset by the proxy'), ok());
  client = new EchoClient(server.address, grpc.credentials.createInsecure());
  policy = createPolicy({ retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, reconnect: { minDelayMs: 1, maxDelayMs: 5 }, deadlineMs: 60_000, breaker: false });
  const answer = await policy.execute(echo(client), { name: 'read', idempotent: true }).catch((e: unknown) => e);
  expect(answer).toEqual({ echo: { n: 1 } });
  expect(server.seen).toHaveLength(2);
}, 60_000);

it('a keyed call that is not idempotent ends UnknownOutcome (maybe run), never CallAborted', async () => {
  server = await startEchoServer();
  server.behave(status(grpc.status.CANCELLED, 'stream reset by the proxy'));
  client = new EchoClient(server.address, grpc.credentials.createInsecure());
  policy = createPolicy({ retry: { maxAttempts: 1 }, deadlineMs: 60_000, breaker: false });
  const error = await policy.execute(echo(client), { name: 'write' }).catch((e: unknown) => e);
  expect(error).not.toBeInstanceOf(CallAbortedException);
  expect(error).toBeInstanceOf(UnknownOutcomeException);
  expect((error as UnknownOutcomeException).mayHaveExecuted).toBe(true);
}, 60_000);

it("the caller's own abort still ends the call CallAborted", async () => {
  server = await startEchoServer();
  server.behave(() => undefined);
  client = new EchoClient(server.address, grpc.credentials.createInsecure());
  policy = createPolicy({ retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 }, deadlineMs: 60_000, breaker: false });
  const controller = new AbortController();
  const pending = policy.execute(echo(client), { name: 'read', idempotent: true, signal: controller.signal }).catch((e: unknown) => e);
  const s = server;
  await new Promise<void>((resolve) => {
    const tick = (): void => (s.seen.length > 0 ? resolve() : void setTimeout(tick, 5));
    tick();
  });
  controller.abort();
  expect(await pending).toBeInstanceOf(CallAbortedException);
}, 60_000);
