/**
 * gRPC unary calls/s through `grpcInterceptor` against the same calls on bare @grpc/grpc-js, to
 * bench/grpc-server.ts in its own process, with 1 and 64 concurrent callers. Side by side in one
 * run: alternating slices (AB BA …) on two clients with separate channels to the same server;
 * each figure is the median over the slices with its min–max; the ratio is the ratio of the
 * printed medians (target ≥ 0.95, printed, never asserted). CPU per call is this process's.
 *
 * Controls in the same alternation: a second bare client on its own channel (control/bare is an
 * A/A ratio: 1 in truth, so its distance from 1 is this run's own measurement error), bare grpc-js
 * with the deadline the interceptor propagates, and the wire floor: bare grpc-js sending all the
 * interceptor's guarantees put on the wire (metadata and deadline), with no interceptor.
 */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { loadGrpc } from './subject.js';
import type { BenchRow } from './report.js';
import { alternate, median, range, ratioRow, type Op } from './slices.js';

const { grpcInterceptor } = await loadGrpc();

const SUITE = 'client';
const RATIO_TARGET = 0.95;
const CALLERS = [1, 64];
// 16 rounds: with 10, A/A ratios on the 2-core CI machine ranged 0.92–1.09.
const ROUNDS = 16;
const SLICE_MS = 600;


interface ServerProcess {
  address: string;
  cpuUs(): Promise<number>;
  stop(): Promise<void>;
}

async function startServer(): Promise<ServerProcess> {
  const root = fileURLToPath(new URL('..', import.meta.url));
  const script = fileURLToPath(new URL('./grpc-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd: root, stdio: ['pipe', 'pipe', 'inherit', 'ipc'] });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`bench gRPC server exited with ${code}`)));
  });
  const { address } = JSON.parse(first) as { address: string };
  return {
    address,
    cpuUs: () =>
      new Promise<number>((resolve) => {
        child.once('message', (m: { cpuUs: number }) => resolve(m.cpuUs));
        child.send('cpu');
      }),
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin?.end();
      }),
  };
}

const passThrough = (value: Buffer): Buffer => value;
const EchoClient = grpc.makeGenericClientConstructor(
  { call: { path: '/bench.Echo/Call', requestStream: false, responseStream: false, requestSerialize: passThrough, requestDeserialize: passThrough, responseSerialize: passThrough, responseDeserialize: passThrough } },
  'Echo',
);
type Echo = InstanceType<typeof EchoClient> & {
  call(request: Buffer, options: grpc.CallOptions, callback: (error: grpc.ServiceError | null, reply?: Buffer) => void): grpc.ClientUnaryCall;
};

const payload = Buffer.from('{"from":"a","to":"b","amount":1}');
const NO_OPTIONS: grpc.CallOptions = {};
/** `deadlineMs`: a gRPC deadline on each call (what the interceptor sends: the policy's 30 s default). */
const callOn =
  (client: Echo, deadlineMs?: number): Op =>
  () =>
    new Promise((resolve, reject) =>
      client.call(payload, deadlineMs === undefined ? NO_OPTIONS : { deadline: Date.now() + deadlineMs }, (error, reply) => (error ? reject(error) : resolve(reply))),
    );

/**
 * Bare grpc-js carrying what the interceptor's guarantees put on the wire (an `idempotency-key`
 * and `x-hotcold-attempt` metadata, a 30 s deadline), without the interceptor: the floor of what
 * a hotcold call can cost, whatever the interceptor does.
 */
const wireOn = (client: Echo): Op => {
  let n = 0;
  const prefix = `${crypto.randomUUID()}.`;
  return () =>
    new Promise((resolve, reject) => {
      const metadata = new grpc.Metadata();
      metadata.set('idempotency-key', prefix + ++n);
      metadata.set('x-hotcold-attempt', '1');
      (client as unknown as { call(r: Buffer, m: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r?: Buffer) => void): void }).call(
        payload,
        metadata,
        { deadline: Date.now() + 30_000 },
        (error, reply) => (error ? reject(error) : resolve(reply)),
      );
    });
};

/** The cheapest interceptor grpc-js allows: what any interceptor costs before it does anything. */
const passThroughInterceptor: grpc.Interceptor = (options, nextCall) => new grpc.InterceptingCall(nextCall(options));

export async function grpcRows(): Promise<BenchRow[]> {
  const server = await startServer();
  // Separate channels (the option makes grpc-js open its own subchannel for each client).
  const bare = new EchoClient(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as Echo;
  // Every variant on a channel of its own, like the interceptor's: no two share a connection.
  const control = new EchoClient(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as Echo;
  const deadlined = new EchoClient(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as Echo;
  const floor = new EchoClient(server.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 }) as Echo;
  const interceptor = grpcInterceptor({ methods: { '/bench.Echo/Call': { idempotent: true } } });
  const wrapped = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors: [interceptor], 'grpc.use_local_subchannel_pool': 1 }) as Echo;
  const empty = new EchoClient(server.address, grpc.credentials.createInsecure(), { interceptors: [passThroughInterceptor], 'grpc.use_local_subchannel_pool': 1 }) as Echo;
  const bareCall = callOn(bare);
  const wrappedCall = callOn(wrapped);
  // Diagnostic: bare grpc-js with the deadline the interceptor propagates (grpc-js then runs a
  // deadline timer per call on both sides): how much of the gap is deadline propagation.
  const bareDeadlineCall = callOn(deadlined, 30_000);
  // Diagnostics of the floor: an interceptor that does nothing, and the wire contract without one.
  const emptyCall = callOn(empty);
  const wireCall = wireOn(floor);
  const controlCall = callOn(control);
  const rows: BenchRow[] = [];
  try {
    for (const callers of CALLERS) {
      const [bareSlices, wrappedSlices, deadlineSlices, emptySlices, wireSlices, controlSlices] = await alternate(
        [bareCall, wrappedCall, bareDeadlineCall, emptyCall, wireCall, controlCall],
        callers,
        ROUNDS,
        SLICE_MS,
        server,
      );
      const label = `gRPC unary ${callers} caller${callers === 1 ? '' : 's'}`;
      const bareRates = bareSlices.map((s) => s.perSecond);
      const wrappedRates = wrappedSlices.map((s) => s.perSecond);
      const note = `min–max over ${ROUNDS} alternating ${SLICE_MS} ms slices`;
      const busy = [...bareSlices, ...wrappedSlices].map((s) => s.serverBusy * 100);
      rows.push(
        { suite: SUITE, name: `${label}: bare grpc-js`, value: median(bareRates), spread: range(bareRates, 0), unit: 'calls/s', note },
        { suite: SUITE, name: `${label}: grpcInterceptor`, value: median(wrappedRates), spread: range(wrappedRates, 0), unit: 'calls/s', note },
        ratioRow(SUITE, `${label}: interceptor/bare`, wrappedSlices, bareSlices, 'spread: per-round ratios', RATIO_TARGET),
        ratioRow(SUITE, `${label}: control/bare`, controlSlices, bareSlices, "A/A control: a second bare client; its distance from 1 is this run's error"),
        ratioRow(SUITE, `${label}: 30 s deadline/bare`, deadlineSlices, bareSlices, 'diagnostic: bare grpc-js with the deadline the interceptor propagates'),
        ratioRow(SUITE, `${label}: wire floor/bare`, wireSlices, bareSlices, "diagnostic: bare grpc-js with the interceptor's metadata and deadline, no interceptor"),
        ratioRow(SUITE, `${label}: pass-through interceptor/bare`, emptySlices, bareSlices, 'diagnostic: (options, next) => new InterceptingCall(next(options)), what any interceptor costs'),
        {
          suite: SUITE,
          name: `${label}: bare grpc-js + 30 s deadline`,
          value: median(deadlineSlices.map((s) => s.perSecond)),
          spread: range(deadlineSlices.map((s) => s.perSecond), 0),
          unit: 'calls/s',
          note: 'diagnostic: the deadline the interceptor propagates, without the interceptor',
        },
        { suite: SUITE, name: `${label}: bare grpc-js CPU`, value: median(bareSlices.map((s) => s.cpuUs)), spread: range(bareSlices.map((s) => s.cpuUs), 0), unit: 'µs/call' },
        {
          suite: SUITE,
          name: `${label}: pass-through interceptor CPU`,
          value: median(emptySlices.map((s) => s.cpuUs)),
          spread: range(emptySlices.map((s) => s.cpuUs), 0),
          unit: 'µs/call',
          note: 'diagnostic: (options, next) => new InterceptingCall(next(options)), what any interceptor costs',
        },
        {
          suite: SUITE,
          name: `${label}: bare grpc-js + hotcold wire metadata + 30 s deadline CPU`,
          value: median(wireSlices.map((s) => s.cpuUs)),
          spread: range(wireSlices.map((s) => s.cpuUs), 0),
          unit: 'µs/call',
          note: "diagnostic: what the interceptor's guarantees put on the wire, without it",
        },
        { suite: SUITE, name: `${label}: grpcInterceptor CPU`, value: median(wrappedSlices.map((s) => s.cpuUs)), spread: range(wrappedSlices.map((s) => s.cpuUs), 0), unit: 'µs/call' },
        { suite: SUITE, name: `${label}: server CPU busy`, value: median(busy), spread: range(busy, 0), unit: '% of a core', note: 'near 100 means the server limits the rate' },
      );
    }
  } finally {
    bare.close();
    control.close();
    deadlined.close();
    floor.close();
    wrapped.close();
    empty.close();
    await interceptor.close();
    await server.stop();
  }
  return rows;
}
