/**
 * `hotcold/testing`: real servers on loopback for tests, examples and the demo — the fault
 * server, the dev balancer, an in-memory transport, the demo ledger app. Not for production
 * traffic. Guide: docs/testing.md.
 *
 * @module hotcold/testing
 */
export { startFaultServer, FaultRpcError } from './fault-server.js';
export type { FaultServer, FaultServerOptions, FaultHandler, FaultRequestMeta, FaultRequestRecord, FaultOutcome } from './fault-server.js';
export { ALL_FAULT_MODES, BALANCER_503_BODY, BALANCER_502_BODY, BALANCER_504_BODY, PROXY_503_BODY } from './fault-modes.js';
export type { FaultMode, FaultModeName, FaultSpec } from './fault-modes.js';
export { startDevBalancer } from './dev-balancer.js';
export type { DevBalancer, DevBalancerEvent, DevBalancerOptions, DevBalancerStats, BackendStats } from './dev-balancer.js';
export { ledgerApp, readLedger } from './ledger-app.js';
export type { LedgerApp, LedgerAppOptions, LedgerEntry, TransferParams } from './ledger-app.js';
export { createMemoryTransport } from '../client/memory-transport.js';
export type { MemoryTransportOptions } from '../client/memory-transport.js';
export { runConformance, formatConformanceReport } from './conformance/index.js';
export type { ConformanceOptions, ConformanceOutcome, ConformanceReport, ConformanceResult } from './conformance/index.js';
export { conformanceApp, CONFORMANCE_METHODS, MAX_CONFORMANCE_SLEEP_MS } from './conformance-app.js';
export type { ConformanceApp, ConformanceAppOptions, CounterParams } from './conformance-app.js';
export type { JsonRpcId } from '../wire.js';
export { createRestLedgerNode } from './rest-ledger-node.js';
export type { RestLedgerNode, RestLedgerNodeOptions } from './rest-ledger-node.js';
export { startGrpcLedgerNode, ledgerGrpcService, healthGrpcService } from './grpc-ledger.js';
export type {
  GrpcLedgerNode,
  GrpcLedgerNodeOptions,
  GrpcTransferRequest,
  GrpcTransferReply,
  GrpcBalanceRequest,
  GrpcBalanceReply,
  GrpcPingReply,
  GrpcMethodDefinitionLike,
} from './grpc-ledger.js';
