/**
 * One reference gRPC ledger node in its own process, for the gRPC e2e tests and the bench:
 * `tsx test/e2e/grpc-ledger-child.ts <sqlite file> <machine name> [port]`. Prints JSON lines
 * (`listening`, `acquired`, `lost`, `released`, `handed-over`); SIGUSR2 is a planned handover
 * (release the lease, stand by), SIGTERM stops it cleanly (releases the lease), SIGKILL is a crash.
 */
import { createLease, sqliteStore } from '../../src/lease/index.js';
import { startGrpcLedgerNode } from '../../src/testing/index.js';

const [file, machineName, portText] = process.argv.slice(2);
if (!file || !machineName) throw new Error('usage: grpc-ledger-child.ts <sqlite file> <machine name> [port]');

const print = (line: Record<string, unknown>): void => void process.stdout.write(`${JSON.stringify(line)}\n`);
const lease = createLease({ store: sqliteStore(file), machineName, mode: 'warm', updateInterval: 200, waitInterval: 1000 });
lease.events$.subscribe((e) => {
  if (e.type === 'acquired' || e.type === 'lost' || e.type === 'released') print({ event: e.type, token: e.token, node: machineName });
});
const node = await startGrpcLedgerNode({ lease, port: Number(portText ?? 0) });
print({ event: 'listening', port: node.port, node: machineName });

process.on('SIGUSR2', () => {
  void node.release().then(() => print({ event: 'handed-over', node: machineName }));
});
process.once('SIGTERM', () => {
  void node
    .stop()
    .then(() => lease.close())
    .then(() => process.exit(0));
});
