/**
 * A real grpc-js server on loopback for the interceptor's tests: one unary method
 * `/test.Echo/Call` (JSON codec) whose behaviour the test sets per call, counting every request
 * that reached the handler, with the metadata and deadline it carried.
 */
import * as grpc from '@grpc/grpc-js';
import { afterEach } from 'vitest';
import { grpcInterceptor, type GrpcInterceptor, type GrpcInterceptorOptions } from '../../src/grpc/index.js';

export { freePort } from '../../src/cli/demo/ports.js';

/** The method of {@link echoService}. */
export const ECHO_METHOD = '/test.Echo/Call';

/**
 * The policy the interceptor's tests run under unless they say otherwise: 3 attempts 1–5 ms
 * apart, no breaker, no budget, two reconnect attempts 5–10 ms apart.
 */
export const QUICK_POLICY = {
  retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 },
  breaker: false,
  budget: false,
  reconnect: { minDelayMs: 5, maxDelayMs: 10 },
  maxReconnectAttempts: 2,
} as const satisfies GrpcInterceptorOptions;

/** An EchoClient and the hotcold interceptor its calls go through. */
export interface InterceptedClient {
  interceptor: GrpcInterceptor;
  client: EchoClientInstance;
}

export interface InterceptedClients {
  /**
   * A client of `address` whose calls go through a new interceptor made with `options` (or
   * around a policy of yours, which you close).
   * @param interceptors the client's whole interceptor list, given hotcold's (default: it alone)
   */
  make(
    address: string,
    options: Parameters<typeof grpcInterceptor>[0],
    channel?: grpc.ChannelOptions,
    interceptors?: (hotcold: GrpcInterceptor) => grpc.Interceptor[],
  ): InterceptedClient;
  /** Something else the test opened, closed after the clients. */
  onCleanup(close: () => Promise<void> | void): void;
}

/**
 * Call at a test file's top level: every client made through it is closed after each test, then
 * its interceptor (which closes the policy it made), then what `onCleanup` was given.
 */
export function interceptedClients(): InterceptedClients {
  const open: InterceptedClient[] = [];
  const closers: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const { interceptor, client } of open.splice(0)) {
      client.close();
      await interceptor.close();
    }
    for (const close of closers.splice(0)) await close();
  });
  return {
    make(address, options, channel = {}, interceptors = (hotcold) => [hotcold]) {
      const interceptor = grpcInterceptor(options);
      const client = new EchoClient(address, grpc.credentials.createInsecure(), { ...channel, interceptors: interceptors(interceptor) });
      const made = { interceptor, client };
      open.push(made);
      return made;
    },
    onCleanup(close) {
      closers.push(close);
    },
  };
}

export interface Seen {
  key: string | undefined;
  attempt: string | undefined;
  /** ms between the request's arrival and its gRPC deadline (Infinity: none). */
  deadlineLeftMs: number;
  request: unknown;
  /** The W3C `traceparent` metadata, if the call carried one. */
  traceparent: string | undefined;
}

export type Behaviour = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>, index: number) => void;

export interface EchoServer {
  address: string;
  port: number;
  server: grpc.Server;
  /** Requests that reached the handler, in order. */
  seen: Seen[];
  /** What the next requests do: behaviours are used in order, the last one repeats. */
  behave(...behaviours: Behaviour[]): void;
  /** Resolves when `n` requests have reached the handler. */
  reached(n: number): Promise<void>;
  close(): Promise<void>;
}

const json = {
  serialize: (value: unknown): Buffer => Buffer.from(JSON.stringify(value ?? null)),
  deserialize: (bytes: Buffer): unknown => (bytes.length === 0 ? null : JSON.parse(bytes.toString('utf8'))),
};

export const echoService = {
  /** Server-streaming: answers each request with two messages (for the pass-through check). */
  stream: {
    path: '/test.Echo/Stream',
    requestStream: false,
    responseStream: true,
    originalName: 'stream',
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
  call: {
    path: '/test.Echo/Call',
    requestStream: false,
    responseStream: false,
    originalName: 'call',
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
} as const;

export const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo');
export type EchoClientInstance = InstanceType<typeof EchoClient>;

export function identity(node = 'node-a', epoch = 1, dedup = false): grpc.Metadata {
  const md = new grpc.Metadata();
  md.set('x-hotcold-node', node);
  md.set('x-hotcold-epoch', String(epoch));
  if (dedup) md.set('x-hotcold-dedup', '1');
  return md;
}

/** Answers `{ echo: request }` with the node's identity. */
export const ok =
  (node = 'node-a', epoch = 1): Behaviour =>
  (call, callback) => {
    call.sendMetadata(identity(node, epoch));
    callback(null, { echo: call.request });
  };

/** Ends the call with `code`, its details and extra trailers. */
export const status =
  (code: grpc.status, details: string, trailers: Record<string, string> = {}): Behaviour =>
  (_call, callback) => {
    const md = identity();
    for (const [k, v] of Object.entries(trailers)) md.set(k, v);
    callback({ code, details, metadata: md });
  };

/** Never answers (the call stays open until the client gives up). */
export const stall: Behaviour = () => undefined;

export async function startEchoServer(port = 0): Promise<EchoServer> {
  const seen: Seen[] = [];
  let behaviours: Behaviour[] = [ok()];
  const waiters = new Set<() => void>();
  const server = new grpc.Server();
  server.addService(echoService, {
    stream(call: grpc.ServerWritableStream<unknown, unknown>) {
      const key = call.metadata.get('idempotency-key')[0];
      call.write({ n: 1, key: typeof key === 'string' ? key : null });
      call.write({ n: 2 });
      call.end();
    },
    call(call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      const deadline = call.getDeadline();
      const at = deadline instanceof Date ? deadline.getTime() : deadline;
      const text = (key: string): string | undefined => {
        const v = call.metadata.get(key)[0];
        return typeof v === 'string' ? v : undefined;
      };
      const index = seen.length;
      seen.push({ key: text('idempotency-key'), attempt: text('x-hotcold-attempt'), deadlineLeftMs: Number.isFinite(at) ? at - Date.now() : Infinity, request: call.request, traceparent: text('traceparent') });
      for (const w of [...waiters]) w();
      const behaviour = behaviours[Math.min(index, behaviours.length - 1)] ?? ok();
      behaviour(call, callback, index);
    },
  });
  const bound = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    server,
    seen,
    behave(...next) {
      behaviours = next;
      seen.length = 0;
    },
    reached(n) {
      return new Promise((resolve) => {
        const check = (): void => {
          if (seen.length >= n) {
            waiters.delete(check);
            resolve();
          }
        };
        waiters.add(check);
        check();
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.forceShutdown();
        resolve();
      }),
  };
}

/** One unary call, as a promise of `{ value }` or `{ error }`. */
export function callEcho(client: EchoClientInstance, request: unknown, options: grpc.CallOptions = {}, metadata = new grpc.Metadata()): Promise<{ value?: unknown; error?: grpc.ServiceError }> {
  return new Promise((resolve) => {
    (client as unknown as { call: (r: unknown, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, v?: unknown) => void) => void }).call(
      request,
      metadata,
      options,
      (error, value) => resolve(error ? { error } : { value }),
    );
  });
}
