/**
 * The status the caller's grpc-js call ends with when the policy gives up: the caller still gets
 * a grpc-js `ServiceError` (`code`, `details`, `metadata`), whose `cause` is the
 * {@link RPCException} that says whether the call may have run ({@link rpcExceptionOf}).
 */
import { RPCException, RetriesExhaustedException } from '../errors.js';
import type { GrpcMetadataLike, GrpcStatusLike } from './grpc-types.js';
import { GrpcStatus } from './status-codes.js';

/** The status handed to grpc-js: its own fields, plus `cause`, which grpc-js copies onto the `ServiceError`. */
export interface CallerStatus extends GrpcStatusLike {
  cause: RPCException;
}

/** The attempt statuses behind the exceptions one interceptor threw (per interceptor, never global). */
export type AttemptStatuses = WeakMap<RPCException, GrpcStatusLike>;

/** The status of the attempt that decided `error`: itself, its cause chain, or the last of its causes. */
function attemptStatus(error: RPCException, statuses: AttemptStatuses): GrpcStatusLike | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 8 && current instanceof RPCException; depth++) {
    const own = statuses.get(current);
    if (own !== undefined) return own;
    current = current instanceof RetriesExhaustedException ? current.causes[current.causes.length - 1] : current.cause;
  }
  return undefined;
}

function codeFor(error: RPCException, attempt: GrpcStatusLike | undefined): number {
  switch (error.kind) {
    case 'remote-call':
      return attempt?.code ?? GrpcStatus.UNKNOWN;
    case 'authentication':
      return attempt?.code ?? GrpcStatus.UNAUTHENTICATED;
    case 'deadline-exceeded':
      return GrpcStatus.DEADLINE_EXCEEDED;
    case 'call-aborted':
      return GrpcStatus.CANCELLED;
    case 'pending-limit':
      return GrpcStatus.RESOURCE_EXHAUSTED;
    case 'protocol':
      // A request grpc-js could not send keeps grpc-js's own code (RESOURCE_EXHAUSTED for its size limit).
      return attempt !== undefined && attempt.code !== GrpcStatus.OK ? attempt.code : GrpcStatus.INTERNAL;
    case 'client-closed':
    case 'circuit-open':
      return GrpcStatus.UNAVAILABLE;
    default:
      // connection-failure, unknown-outcome, retries-exhausted: what the last attempt ended with.
      return attempt !== undefined && attempt.code !== GrpcStatus.OK ? attempt.code : GrpcStatus.UNAVAILABLE;
  }
}

/**
 * Builds the caller's final status for `error`.
 * @param newMetadata makes empty metadata when no attempt left any
 */
export function callerStatus(error: RPCException, statuses: AttemptStatuses, newMetadata: () => GrpcMetadataLike): CallerStatus {
  const attempt = attemptStatus(error, statuses);
  // An answer the server gave is passed on as it came (details and trailers included).
  if (attempt !== undefined && statuses.get(error) === attempt && (error.kind === 'remote-call' || error.kind === 'authentication')) {
    return { code: attempt.code, details: attempt.details, metadata: attempt.metadata, cause: error };
  }
  return { code: codeFor(error, attempt), details: error.message, metadata: attempt?.metadata ?? newMetadata(), cause: error };
}

/**
 * The {@link RPCException} behind a grpc-js `ServiceError` that a call through
 * {@link grpcInterceptor} failed with, or undefined for any other error.
 * @example
 * import type { ServiceError } from '@grpc/grpc-js';
 * import { rpcExceptionOf } from 'hotcold/grpc';
 * import type { GrpcTransferReply } from 'hotcold/testing';
 *
 * // the callback of a unary call through grpcInterceptor: client.transfer(request, onTransfer)
 * export function onTransfer(error: ServiceError | null, reply?: GrpcTransferReply): void {
 *   const reason = rpcExceptionOf(error);
 *   if (reason && !reason.mayHaveExecuted) console.log('certainly did not run: safe to send again');
 *   else if (reason) console.log(`may have run (${reason.kind}): look it up before sending again`);
 *   else if (reply) console.log(`booked as #${reply.id}`);
 * }
 */
export function rpcExceptionOf(error: unknown): RPCException | undefined {
  if (error instanceof RPCException) return error;
  const cause = typeof error === 'object' && error !== null ? (error as { cause?: unknown }).cause : undefined;
  return cause instanceof RPCException ? cause : undefined;
}
