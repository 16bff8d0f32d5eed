/**
 * A transport that never leaves the process: answers come from a function. For unit tests of
 * code that uses the client, and for the benchmark that isolates the client's own per-call cost
 * from the network's.
 */
import type { HealthResult, Transport, TransportRequest, TransportResponse } from '../transport/types.js';

export interface MemoryTransportOptions {
  /** Produces the answer to one attempt; throw an `RPCException` to simulate a failure. Default: echo. */
  handler?: (request: TransportRequest) => TransportResponse | Promise<TransportResponse>;
  /** Answers `health()`; default: active, with the node and epoch below. */
  health?: (baseUrl: string) => HealthResult | Promise<HealthResult>;
  node?: string;
  epoch?: number;
  dedup?: boolean;
}

export function createMemoryTransport(options: MemoryTransportOptions = {}): Transport {
  const node = options.node ?? 'memory';
  const epoch = options.epoch ?? 1;
  const dedup = options.dedup ?? false;
  const handler =
    options.handler ??
    ((request: TransportRequest): TransportResponse => ({
      result: { method: request.method, params: request.params },
      status: 200,
      node,
      epoch,
      dedup,
    }));
  const health =
    options.health ??
    ((): HealthResult => ({ ok: true, status: 200, body: { status: 'active', node, epoch }, node, epoch }));
  return {
    send: async (request) => handler(request),
    health: async (baseUrl) => health(baseUrl),
    close: async () => undefined,
  };
}
