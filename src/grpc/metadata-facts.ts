import type { GrpcMetadataLike } from './grpc-types.js';

/**
 * The hotcold wire contract (DESIGN §1) carried as gRPC metadata: the same names as the HTTP
 * headers, lower-case as HTTP/2 requires.
 */
export const GrpcMetadataKeys = {
  /** Request: one per logical call, the same on every retry. */
  idempotencyKey: 'idempotency-key',
  /** Request: 1-based attempt number. */
  attempt: 'x-hotcold-attempt',
  /** Response: the answering node's machine name. */
  node: 'x-hotcold-node',
  /** Response: the fencing token (epoch) the node serves under. */
  epoch: 'x-hotcold-epoch',
  /** Response: `1` where the node deduplicates by idempotency key. */
  dedup: 'x-hotcold-dedup',
  /** Response: `NOT_ACTIVE` / `NOT_EXECUTED` / `EXPIRED` (not executed) or `COMMIT_UNKNOWN` (maybe). */
  error: 'x-hotcold-error',
  /** A balancer's own answer that forwarded nothing (the shipped HAProxy config sets it). */
  notForwarded: 'x-hotcold-not-forwarded',
  /** gRFC A6 server pushback, in ms. */
  pushback: 'grpc-retry-pushback-ms',
} as const;

/** A node's own words: the call certainly did not run. */
export const NODE_NOT_EXECUTED: ReadonlySet<string> = new Set(['NOT_ACTIVE', 'NOT_EXECUTED', 'EXPIRED']);

/** What the response metadata (initial metadata and trailers) says. */
export interface ResponseFacts {
  /** `x-hotcold-node`: the answering node's name, when present. */
  node?: string | undefined;
  /** `x-hotcold-epoch`: its lease epoch (fencing token), when present and an integer. */
  epoch?: number | undefined;
  /** `x-hotcold-dedup: 1`: the node deduplicates by idempotency key in its term. */
  dedup?: boolean | undefined;
  /** `x-hotcold-error`, when present. */
  nodeError?: string | undefined;
  /** `x-hotcold-not-forwarded: 1`: a balancer answered without forwarding (the call did not run). */
  notForwarded: boolean;
  /** gRFC A6 pushback: ms ≥ 0, `-1` for "do not retry" (negative or malformed), undefined when absent. */
  pushbackMs?: number | undefined;
}

// Module constants: a regex literal in a function body is a new RegExp object on every call.
/** An epoch: a non-negative integer, exact as a double. */
const EPOCH_TEXT = /^\d{1,15}$/;
/** gRFC A6 pushback: "a non-negative integer" (of ms). */
const PUSHBACK_TEXT = /^\d{1,10}$/;

function first(metadata: GrpcMetadataLike | undefined, key: string): string | undefined {
  if (metadata === undefined) return undefined;
  for (const value of metadata.get(key)) if (typeof value === 'string') return value;
  return undefined;
}

/** A served call's identity: `node`, `epoch`, `dedup`. */
export interface IdentityFacts {
  node: string | undefined;
  epoch: number | undefined;
  dedup: boolean | undefined;
}

/**
 * Who answered a call that succeeded: only the identity (`node`, `epoch`, `dedup`) matters then,
 * so the failure-only keys (error, not-forwarded mark, pushback) are not looked up on every call.
 * Written into `into` (an object of the caller's, reused where the reader copies the fields).
 * @returns whether any of the three is known
 */
export function readIdentityFacts(headers: GrpcMetadataLike | undefined, trailers: GrpcMetadataLike | undefined, into: IdentityFacts): boolean {
  const node = first(trailers, GrpcMetadataKeys.node) ?? first(headers, GrpcMetadataKeys.node);
  const epochText = first(trailers, GrpcMetadataKeys.epoch) ?? first(headers, GrpcMetadataKeys.epoch);
  const dedup = first(trailers, GrpcMetadataKeys.dedup) ?? first(headers, GrpcMetadataKeys.dedup);
  into.node = node !== undefined && node.length > 0 && node.length <= 200 ? node : undefined;
  into.epoch = epochText !== undefined && EPOCH_TEXT.test(epochText) ? Number(epochText) : undefined;
  into.dedup = dedup === '1' ? true : undefined;
  return into.node !== undefined || into.epoch !== undefined || into.dedup !== undefined;
}

/**
 * What a call's response metadata says, for {@link classifyGrpcStatus}: a trailer wins over the
 * same key in the initial metadata (a status-only answer has trailers alone).
 * @param headers the response's initial metadata, when any arrived
 * @param trailers the final status's metadata
 */
export function readResponseFacts(headers: GrpcMetadataLike | undefined, trailers: GrpcMetadataLike | undefined): ResponseFacts {
  const pick = (key: string): string | undefined => first(trailers, key) ?? first(headers, key);
  const node = pick(GrpcMetadataKeys.node);
  const epochText = pick(GrpcMetadataKeys.epoch);
  const epoch = epochText !== undefined && EPOCH_TEXT.test(epochText) ? Number(epochText) : undefined;
  const pushback = pick(GrpcMetadataKeys.pushback);
  // gRFC A6: "a non-negative integer" delays the retry; anything else means "do not retry".
  const pushbackMs = pushback === undefined ? undefined : PUSHBACK_TEXT.test(pushback) ? Number(pushback) : -1;
  return {
    node: node !== undefined && node.length > 0 && node.length <= 200 ? node : undefined,
    epoch,
    dedup: pick(GrpcMetadataKeys.dedup) === '1' ? true : undefined,
    nodeError: pick(GrpcMetadataKeys.error),
    notForwarded: pick(GrpcMetadataKeys.notForwarded) === '1',
    pushbackMs,
  };
}
