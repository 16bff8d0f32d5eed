/**
 * gRPC status codes (https://grpc.github.io/grpc/core/md_doc_statuscodes.html), as numbers so
 * that `hotcold/grpc` needs no value from `@grpc/grpc-js` to classify them.
 */
export const GrpcStatus = {
  /** Success. */
  OK: 0,
  /** Cancelled, typically by the caller. */
  CANCELLED: 1,
  /** Unknown error (e.g. a server that threw). */
  UNKNOWN: 2,
  /** The request is invalid, whatever the server state. */
  INVALID_ARGUMENT: 3,
  /** The deadline passed before the call completed (it may have run). */
  DEADLINE_EXCEEDED: 4,
  /** A requested entity was not found. */
  NOT_FOUND: 5,
  /** The entity to create already exists. */
  ALREADY_EXISTS: 6,
  /** The caller may not do this. */
  PERMISSION_DENIED: 7,
  /** A quota or resource ran out (back-pressure). */
  RESOURCE_EXHAUSTED: 8,
  /** The system is not in a state that allows the operation. */
  FAILED_PRECONDITION: 9,
  /** Aborted, e.g. by a concurrency conflict. */
  ABORTED: 10,
  /** Past the valid range. */
  OUT_OF_RANGE: 11,
  /** The method is not implemented or not supported. */
  UNIMPLEMENTED: 12,
  /** An internal invariant broke. */
  INTERNAL: 13,
  /** The service is unavailable right now (usually transient). */
  UNAVAILABLE: 14,
  /** Unrecoverable data loss or corruption. */
  DATA_LOSS: 15,
  /** The request lacks valid authentication credentials. */
  UNAUTHENTICATED: 16,
} as const;

/** The name of a gRPC status code, e.g. `UNAVAILABLE`. */
export type GrpcStatusName = keyof typeof GrpcStatus;

const NAMES: readonly string[] = Object.keys(GrpcStatus);

/** `UNAVAILABLE` for 14; `CODE_<n>` for a code outside the table. */
export function grpcStatusName(code: number): string {
  return NAMES[code] ?? `CODE_${code}`;
}
