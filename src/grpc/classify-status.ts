/**
 * A gRPC call's final status → the one {@link RPCException} the policy decides on (DESIGN §2).
 * "Not executed" is said only on evidence; where grpc-js cannot know, the answer is "maybe".
 *
 * | status (and evidence)                                                        | class                               | ran?  | retried by default |
 * | ---------------------------------------------------------------------------- | ----------------------------------- | ----- | ------------------ |
 * | any status with `x-hotcold-error: NOT_ACTIVE / NOT_EXECUTED / EXPIRED`        | ConnectionFailure (`nodeError`)     | no    | yes |
 * | any status with `x-hotcold-not-forwarded: 1` (the balancer's own answer)      | ConnectionFailure                   | no    | yes |
 * | UNAVAILABLE made by grpc-js (no response headers, no metadata off the wire), | ConnectionFailure                   | no    | yes |
 * |   details "No connection established…",                                      |                                     |       |     |
 * |   "Failed to start HTTP/2 stream…"                                           |                                     |       |     |
 * | DEADLINE_EXCEEDED made by grpc-js, "waiting for name resolution /            | ConnectionFailure                   | no    | yes |
 * |   metadata filters / LB pick" (the call never left the client)              |                                     |       |     |
 * | UNAVAILABLE / DEADLINE_EXCEEDED / INTERNAL / UNKNOWN / DATA_LOSS / CANCELLED | UnknownOutcome                      | maybe | idempotent or deduplicated |
 * |   otherwise ("Connection dropped", a 502/503/504 without the mark, RST_STREAM, |
 * |   "Stream refused by server": a proxy's REFUSED_STREAM after it forwarded,   |                                     |       |     |
 * |   a server's own status quoting grpc-js's words, e.g. a downstream's error) |                                   |       |     |
 * | any status with `x-hotcold-error: COMMIT_UNKNOWN`                            | UnknownOutcome                      | maybe | idempotent or deduplicated |
 * | RESOURCE_EXHAUSTED "Attempted to send message with a size larger than N",    | Protocol                            | no    | never (fails the same) |
 * |   INTERNAL "Request message serialization failure: …", made by grpc-js       |                                     |       |     |
 * | RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms` ≥ 0 (gRFC A6)               | ConnectionFailure, `backPressure`   | no    | after the pushback |
 * | UNAUTHENTICATED / PERMISSION_DENIED                                          | Authentication (401 / 403)          | no    | never |
 * | RESOURCE_EXHAUSTED without pushback (or a negative one), INVALID_ARGUMENT,    | RemoteCall (`code` = gRPC status)   | yes   | never (`retryOnCodes` opts in) |
 * |   NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED, OUT_OF_RANGE, UNIMPLEMENTED |                           |       |     |
 * | any status above with a negative or malformed `grpc-retry-pushback-ms`      | its class, `doNotRetry: true`       | as above | never (gRFC A6) |
 * | any retried status above with `grpc-retry-pushback-ms` ≥ 0                   | its class, `retryAfterMs`           | as above | after the pushback (gRFC A6) |
 */
import {
  AuthenticationException,
  ConnectionFailureException,
  ProtocolException,
  RemoteCallException,
  UnknownOutcomeException,
  type RPCException,
} from '../errors.js';
import type { GrpcStatusLike } from './grpc-types.js';
import { NODE_NOT_EXECUTED, type ResponseFacts } from './metadata-facts.js';
import { GrpcStatus, grpcStatusName } from './status-codes.js';

/** What grpc-js let the interceptor see of one attempt besides its status. */
export interface AttemptEvidence {
  /** Response headers (initial metadata) arrived: something answered this stream. */
  headersReceived: boolean;
}

/** The metadata key grpc-js's own retries add to a status (gRFC A6). */
const GRPC_JS_PREVIOUS_ATTEMPTS = 'grpc-previous-rpc-attempts';

/**
 * The status came off the wire: its metadata holds what a server (or balancer) sent with it (a
 * Trailers-Only answer carries at least its `content-type`; grpc-js reports no initial metadata
 * for one). A status grpc-js makes itself (no connection, refused stream, deadline while picking)
 * carries a new, empty `Metadata`. Without this, a server that ran the call and then passed on a
 * downstream client's error text ("No connection established…") would read as "never sent".
 * Metadata that cannot be listed proves nothing: counted as from the wire. One key grpc-js adds
 * itself: after its own retries (a service config's `retryPolicy`) it puts
 * `grpc-previous-rpc-attempts` on a status that came with no response headers, its own included
 * (retrying-call.ts), so that key alone is no server's.
 */
function fromTheWire(status: GrpcStatusLike): boolean {
  const map = typeof status.metadata?.getMap === 'function' ? status.metadata.getMap() : undefined;
  if (map === undefined) return true;
  for (const key in map) if (Object.prototype.hasOwnProperty.call(map, key) && key !== GRPC_JS_PREVIOUS_ATTEMPTS) return true;
  return false;
}

/** grpc-js's own words for a call that never left the client (or was refused unprocessed). */
// Not "Stream refused by server" (HTTP/2 REFUSED_STREAM): RFC 9113 §8.7 makes it "not processed"
// only when the server itself sends it, and an HTTP/2 proxy sends it too. HAProxy resets the
// client's stream with REFUSED_STREAM when the node it forwarded the call to breaks before an
// answer (test/grpc/proxy-refused-stream.test.ts): the node had the whole call. The client cannot
// tell a proxy's reset from the node's, and DESIGN §1 takes only the balancer's mark, a node's
// answer or a request never fully written as evidence: "maybe".
const NEVER_SENT_UNAVAILABLE = /(^|: )No connection established|^Failed to start HTTP\/2 stream/;
/**
 * grpc-js's own words for a request it could not put on the wire: over the channel's
 * `grpc.max_send_message_length` (compression-filter.ts), or refused by the method's
 * `requestSerialize` (client-interceptors.ts). The server never had the message; the same request
 * fails the same way again.
 */
const NOT_SENDABLE: Partial<Record<number, RegExp>> = {
  [GrpcStatus.RESOURCE_EXHAUSTED]: /^Attempted to send message with a size larger than \d+$/,
  [GrpcStatus.INTERNAL]: /^Request message serialization failure: /,
};
/** grpc-js's deadline report for a call still waiting for a connection (resolving-call.ts, load-balancing-call.ts). */
const NEVER_SENT_DEADLINE = /waiting for name resolution|waiting for metadata filters|Waiting for LB pick/;

/** Context of {@link classifyGrpcStatus}. */
export interface GrpcClassifyContext {
  /** Operation name (the method path), for messages and `RPCException.method`. */
  method: string;
  /** 1-based attempt number. */
  attempt: number;
  /** Scrubs the caller's credentials from the server's details (see metadata-secrets.ts). */
  scrub?: ((text: string) => string) | undefined;
}

/**
 * Classifies a non-OK gRPC status by the table above.
 * @param status the call's final status (code, details, trailers)
 * @param facts what the response metadata said ({@link readResponseFacts})
 * @param evidence what grpc-js showed of the attempt
 */
export function classifyGrpcStatus(
  status: GrpcStatusLike,
  facts: ResponseFacts,
  evidence: AttemptEvidence,
  context: GrpcClassifyContext,
): RPCException {
  const name = grpcStatusName(status.code);
  const details = context.scrub === undefined ? status.details : context.scrub(status.details);
  const label = `${context.method}: gRPC ${name} (${status.code}): ${details}`;
  const cause = Object.assign(new Error(details), { name: 'GrpcStatus', code: status.code });
  // gRFC A6: a negative or malformed pushback asks the client not to retry at all, whatever the status.
  const doNotRetry = facts.pushbackMs !== undefined && facts.pushbackMs < 0 ? true : undefined;
  const base = { method: context.method, attempts: context.attempt, node: facts.node, epoch: facts.epoch, cause, doNotRetry };
  const retryAfterMs = facts.pushbackMs !== undefined && facts.pushbackMs >= 0 ? facts.pushbackMs : undefined;

  if (facts.nodeError !== undefined && NODE_NOT_EXECUTED.has(facts.nodeError)) {
    return new ConnectionFailureException(`${label}; node said ${facts.nodeError}: not executed`, { ...base, nodeError: facts.nodeError, retryAfterMs });
  }
  if (facts.nodeError === 'COMMIT_UNKNOWN') return new UnknownOutcomeException(`${label}; node said COMMIT_UNKNOWN`, { ...base, retryAfterMs });
  if (facts.notForwarded) {
    return new ConnectionFailureException(`${label}; the balancer forwarded nothing: not executed`, { ...base, retryAfterMs });
  }
  // grpc-js's own words count only for a status grpc-js made: a server's details are its text.
  const answered = evidence.headersReceived || fromTheWire(status);
  if (!answered && NOT_SENDABLE[status.code]?.test(status.details) === true) {
    // A ProtocolException that did not run is final (retry-rules.ts): never sent again.
    return new ProtocolException(`${label}; the request could not be sent: not executed`, { ...base, mayHaveExecuted: false });
  }
  switch (status.code) {
    case GrpcStatus.UNAVAILABLE:
      if (!answered && NEVER_SENT_UNAVAILABLE.test(status.details)) {
        return new ConnectionFailureException(`${label}; never sent: not executed`, { ...base, retryAfterMs });
      }
      return new UnknownOutcomeException(`${label}; the call may have been sent`, { ...base, retryAfterMs });
    case GrpcStatus.DEADLINE_EXCEEDED:
      if (!answered && NEVER_SENT_DEADLINE.test(status.details)) {
        return new ConnectionFailureException(`${label}; never sent: not executed`, { ...base, retryAfterMs });
      }
      return new UnknownOutcomeException(label, { ...base, retryAfterMs });
    case GrpcStatus.CANCELLED:
    case GrpcStatus.UNKNOWN:
    case GrpcStatus.INTERNAL:
    case GrpcStatus.DATA_LOSS:
      return new UnknownOutcomeException(label, { ...base, retryAfterMs });
    case GrpcStatus.RESOURCE_EXHAUSTED:
      if (retryAfterMs !== undefined) {
        return new ConnectionFailureException(`${label}; server pushback ${retryAfterMs} ms`, { ...base, backPressure: true, retryAfterMs });
      }
      return new RemoteCallException(status.code, label, undefined, base);
    case GrpcStatus.UNAUTHENTICATED:
      return new AuthenticationException(401, label, base);
    case GrpcStatus.PERMISSION_DENIED:
      return new AuthenticationException(403, label, base);
    default:
      // An application's answer: INVALID_ARGUMENT, NOT_FOUND, ALREADY_EXISTS, FAILED_PRECONDITION,
      // ABORTED, OUT_OF_RANGE, UNIMPLEMENTED, and codes outside the table. A code opted in by
      // `retryOnCodes` is retried after the pushback (gRFC A6's retryableStatusCodes).
      return new RemoteCallException(status.code, label, undefined, { ...base, retryAfterMs });
  }
}
