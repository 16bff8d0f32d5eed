/**
 * Reconnect probing over the standard gRPC health protocol (`grpc.health.v1.Health/Check`): a
 * probe for {@link PolicyOptions.probe} that asks the same channel the client uses, so "back" means
 * "this client's connection reaches a serving node".
 */
import type { Client, Metadata, ServiceError } from '@grpc/grpc-js';
import { loadGrpc } from './load-grpc.js';
import { sentDeadline } from './deadline.js';
import { ConfigurationError } from '../errors.js';
import type { ProbeContext, ProbeResult } from './policy.js';
import type { GrpcClientLike, GrpcMetadataLike } from './grpc-types.js';
import { HEALTH_CHECK_PATH, ServingStatus, decodeHealthResponse, encodeHealthRequest, type HealthCheckResponse } from './health-codec.js';
import { readResponseFacts } from './metadata-facts.js';
import { GrpcStatus } from './status-codes.js';

/** Options of {@link grpcHealthProbe}. */
export interface GrpcHealthProbeOptions {
  /** The service name to ask about; `''` asks about the server as a whole. @default '' */
  service?: string;
}

/** A client, or a function returning one (for a client created after its interceptor). */
export type GrpcHealthTarget = GrpcClientLike | (() => GrpcClientLike);

/**
 * Makes a probe for `createPolicy({ probe })` / `grpcInterceptor({ probe })` that calls
 * `grpc.health.v1.Health/Check` on the client's own channel, bypassing its interceptors.
 *
 * | answer                                  | probe result |
 * | --------------------------------------- | ------------ |
 * | `SERVING`                               | `ok: true` (with `node`/`epoch`/`dedup` from `x-hotcold-*` metadata) |
 * | `NOT_SERVING`, `UNKNOWN`, `SERVICE_UNKNOWN`, `NOT_FOUND` | `ok: false` |
 * | `UNIMPLEMENTED` (no health service)     | `ok: true`: a server answered |
 * | `RESOURCE_EXHAUSTED` with a pushback ≥ 0 | `ok: false`, `backPressure: true` (alive, asks for a pause: not a failed probe) |
 * | any other status, a timeout             | `ok: false` (`retryAfterMs` from `grpc-retry-pushback-ms`) |
 *
 * @param target the client (any grpc-js `Client`), or a function returning it
 * @throws {ConfigurationError} when `target`, `options` or `options.service` is invalid
 * @example
 * import * as grpc from '@grpc/grpc-js';
 * import { grpcHealthProbe, grpcInterceptor } from 'hotcold/grpc';
 * import { ledgerGrpcService } from 'hotcold/testing'; // stands for your generated service definition
 *
 * const Ledger = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
 * const interceptor = grpcInterceptor({ probe: grpcHealthProbe(() => client, { service: 'hotcold.testing.Ledger' }) });
 * const client = new Ledger('balancer:8443', grpc.credentials.createInsecure(), { interceptors: [interceptor] });
 */
export function grpcHealthProbe(target: GrpcHealthTarget, options: GrpcHealthProbeOptions = {}): (context: ProbeContext) => Promise<ProbeResult> {
  if (typeof target !== 'function' && (typeof target !== 'object' || target === null || typeof target.getChannel !== 'function')) {
    throw new ConfigurationError('target', 'must be a grpc-js client or a function returning one');
  }
  if (typeof options !== 'object' || options === null) throw new ConfigurationError('options', 'must be an object');
  const service = options.service ?? '';
  if (typeof service !== 'string' || service.length > 200) throw new ConfigurationError('service', 'must be a string of at most 200 characters');
  const request = encodeHealthRequest({ service });
  const grpc = loadGrpc();
  let cached: { channel: object; client: Client } | undefined;

  function probeClient(): Client {
    const resolved = typeof target === 'function' ? target() : target;
    if (typeof resolved?.getChannel !== 'function') throw new ConfigurationError('target', 'must return a grpc-js client');
    const channel = resolved.getChannel();
    if (cached?.channel !== channel) {
      // A client over the same channel, without the interceptors (the address is not used).
      cached = { channel, client: new grpc.Client('unused', grpc.credentials.createInsecure(), { channelOverride: channel as never }) };
    }
    return cached.client;
  }

  return (context: ProbeContext): Promise<ProbeResult> =>
    new Promise<ProbeResult>((resolve) => {
      if (context.signal.aborted) {
        resolve({ ok: false });
        return;
      }
      let headers: GrpcMetadataLike | undefined;
      const call = probeClient().makeUnaryRequest<Buffer, HealthCheckResponse>(
        HEALTH_CHECK_PATH,
        (value) => value,
        (bytes) => decodeHealthResponse(bytes),
        request,
        new grpc.Metadata(),
        { deadline: sentDeadline(context.timeoutMs) },
        (error: ServiceError | null, response?: HealthCheckResponse) => {
          context.signal.removeEventListener('abort', onAbort);
          const facts = readResponseFacts(headers, error?.metadata);
          const who = { node: facts.node, epoch: facts.epoch, dedup: facts.dedup };
          if (error === null) {
            resolve({ ok: response?.status === ServingStatus.SERVING, ...who });
          } else if ((error.code as number) === GrpcStatus.UNIMPLEMENTED) {
            resolve({ ok: true, ...who });
          } else {
            const pushback = facts.pushbackMs !== undefined && facts.pushbackMs >= 0 ? facts.pushbackMs : undefined;
            // RESOURCE_EXHAUSTED with a pushback is gRPC's 429 (as classify-status reads it): alive, asking for a pause.
            const backPressure = (error.code as number) === GrpcStatus.RESOURCE_EXHAUSTED && pushback !== undefined;
            resolve({ ok: false, ...who, retryAfterMs: pushback, backPressure });
          }
        },
      );
      call.on('metadata', (received: Metadata) => {
        headers = received;
      });
      const onAbort = (): void => call.cancel();
      context.signal.addEventListener('abort', onAbort, { once: true });
    });
}
