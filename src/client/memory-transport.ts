/**
 * A transport that never leaves the process: answers come from a function. For unit tests of
 * code that uses the client, and for the benchmark that isolates the client's own per-call cost
 * from the network's.
 */
import { raceAbort } from '../shared/race-abort.js';
import type { HealthResult, Transport, TransportRequest, TransportResponse } from '../transport/types.js';

/** Options of {@link createMemoryTransport}. */
export interface MemoryTransportOptions {
  /** Produces the answer to one attempt; throw an `RPCException` to simulate a failure. Default: echo. */
  handler?: (request: TransportRequest) => TransportResponse | Promise<TransportResponse>;
  /** Answers `health()`; default: active, with the node and epoch below. */
  health?: (baseUrl: string) => HealthResult | Promise<HealthResult>;
  /**
   * The node name the default handler and health answers report.
   * @default 'memory'
   */
  node?: string;
  /**
   * The epoch they report.
   * @default 1
   */
  epoch?: number;
  /**
   * Whether they advertise deduplication (`X-Hotcold-Dedup`).
   * @default false
   */
  dedup?: boolean;
}

/**
 * A {@link Transport} that answers from a function in the process: for unit tests of code that
 * uses the client, without sockets. The default handler echoes `{ method, params }`.
 *
 * @param options - The handler, the health answer, and the identity reported.
 * @example
 * ```ts
 * import { createClient, createMemoryTransport } from 'hotcold';
 *
 * const transport = createMemoryTransport({
 *   handler: (request) => ({ result: request.method === 'ping' ? 'pong' : null, status: 200, dedup: false }),
 * });
 * const client = createClient({ url: 'http://memory', transport });
 * console.log(await client.call('ping'));
 * await client.close();
 * ```
 */
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
    // Ends an attempt when its signal aborts (the attempt's timeout, the caller's abort, close()),
    // as a transport must: a handler that never settles does not hold its call past the deadline.
    send: (request) => untilAborted(handler(request), request.signal),
    health: async (baseUrl) => health(baseUrl),
    close: async () => undefined,
  };
}

/** `answer`, or a rejection with `signal`'s reason once it aborts first. */
function untilAborted(answer: TransportResponse | Promise<TransportResponse>, signal: AbortSignal | undefined): Promise<TransportResponse> {
  if (!(answer instanceof Promise) || signal === undefined) return Promise.resolve(answer);
  return raceAbort(answer, signal);
}
