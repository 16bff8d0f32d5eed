/**
 * The gRPC benchmark's server: a bare @grpc/grpc-js server in its own process with one unary
 * method (`/bench.Echo/Call`, raw bytes, no codec work) that answers with the node identity
 * metadata, so the client's cost is what the benchmark sees.
 *
 * Protocol with the parent (IPC): prints `{"address": …}` as its first stdout line once
 * listening; on the message `'cpu'` it replies `{ cpuUs }` (its CPU time so far, µs). Exits
 * when its stdin closes.
 */
import * as grpc from '@grpc/grpc-js';

const identity = new grpc.Metadata();
identity.set('x-hotcold-node', 'bench');
identity.set('x-hotcold-epoch', '1');

const passThrough = (value: Buffer): Buffer => value;
const service: grpc.ServiceDefinition = {
  call: {
    path: '/bench.Echo/Call',
    requestStream: false,
    responseStream: false,
    requestSerialize: passThrough,
    requestDeserialize: passThrough,
    responseSerialize: passThrough,
    responseDeserialize: passThrough,
  },
};

const server = new grpc.Server();
server.addService(service, {
  call(call: grpc.ServerUnaryCall<Buffer, Buffer>, callback: grpc.sendUnaryData<Buffer>) {
    call.sendMetadata(identity.clone());
    callback(null, call.request);
  },
});
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  process.stdout.write(`${JSON.stringify({ address: `127.0.0.1:${port}` })}\n`);
});
process.on('message', (m) => {
  if (m === 'cpu') {
    const used = process.cpuUsage();
    process.send?.({ cpuUs: used.user + used.system });
  }
});
process.stdin.on('end', () => {
  server.forceShutdown();
  process.exit(0);
});
process.stdin.resume();
