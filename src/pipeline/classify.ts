/**
 * The default classifier of {@link createPolicy}: whatever an attempt threw → the one
 * {@link RPCException} the pipeline decides on (DESIGN §2). "Not executed" is said only on
 * evidence; everything it does not recognise is "maybe executed".
 *
 * | thrown                                                        | class                        | ran?  |
 * | ------------------------------------------------------------- | ---------------------------- | ----- |
 * | an `RPCException`                                             | itself                       | its own |
 * | `AbortError` / axios `ERR_CANCELED` / grpc `CANCELLED`        | CallAborted (the pipeline makes it UnknownOutcome / ConnectionFailure when the caller did not end the call) | = written |
 * | `TimeoutError` (the attempt's timeout, `AbortSignal.timeout`) | UnknownOutcome               | maybe, no if `written === false` |
 * | ECONNREFUSED, ENOTFOUND, EAI_AGAIN, EHOSTUNREACH, ENETUNREACH,  | ConnectionFailure          | no    |
 * |   EADDRNOTAVAIL, UND_ERR_CONNECT_TIMEOUT (also as `cause.code`) |                            |       |
 * |   — the same codes from a `read`/`write` syscall (an established |  UnknownOutcome            | maybe, no if `written === false` |
 * |   connection lost its route)                                  |                              |       |
 * | TLS certificate errors (before anything is sent)             | Protocol (not retried)        | no    |
 * | ECONNRESET, EPIPE, ETIMEDOUT, "socket hang up", UND_ERR_SOCKET | UnknownOutcome              | maybe, no if `written === false` |
 * | axios answer 401 / 403                                        | Authentication               | no    |
 * | axios answer 429 (RFC 6585) with `Retry-After`                | ConnectionFailure, backPressure | no |
 * | axios answer other 4xx (an answer, not a backend failure)     | RemoteCall (`code` = status)  | yes   |
 * | axios 5xx marked `X-Hotcold-Not-Forwarded: 1`, or a node's 503 `NOT_ACTIVE`/`NOT_EXECUTED`/`EXPIRED` | ConnectionFailure | no |
 * | axios any other 5xx (502, 503, 504 without evidence)          | UnknownOutcome               | maybe |
 * | grpc-js UNAUTHENTICATED / PERMISSION_DENIED                   | Authentication               | no    |
 * | grpc-js RESOURCE_EXHAUSTED with `grpc-retry-pushback-ms` ≥ 0 (gRFC A6) | ConnectionFailure, backPressure | no |
 * | grpc-js RESOURCE_EXHAUSTED without one                        | RemoteCall (`code` = status)  | yes   |
 * | grpc-js UNAVAILABLE                                           | ConnectionFailure if `written === false`, else UnknownOutcome | no / maybe |
 * | grpc-js DEADLINE_EXCEEDED, INTERNAL, UNKNOWN, DATA_LOSS       | UnknownOutcome               | maybe |
 * | grpc-js application codes (INVALID_ARGUMENT, NOT_FOUND, …)    | RemoteCall (`code` = status)  | yes   |
 * | anything else                                                 | UnknownOutcome               | maybe |
 * | any grpc-js status with a negative or malformed pushback      | its class, `doNotRetry` (never retried, gRFC A6) | as above |
 *
 * `written` is the adapter's evidence ({@link ClassifyContext.written}, from
 * `AttemptContext.report({ written })`): without it a broken connection means "maybe".
 */
import {
  AuthenticationException,
  CallAbortedException,
  ConnectionFailureException,
  ProtocolException,
  RemoteCallException,
  UnknownOutcomeException,
  isRPCException,
  type RPCException,
} from '../errors.js';
import { parseRetryAfter } from '../shared/retry-after.js';
import type { ClassifyContext } from './types.js';

/** Failed before a connection existed: nothing can have been sent. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EAI_NONAME',
  'EHOSTUNREACH',
  'EHOSTDOWN',
  'ENETUNREACH',
  'ENETDOWN',
  'EADDRNOTAVAIL',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** TLS refused the peer before anything was sent; repeating it fails the same way. */
const TLS_REFUSED = new Set([
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** The connection broke: whether the request got through is unknown without evidence. */
const CONNECTION_BROKE = new Set([
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ERR_HTTP2_STREAM_ERROR',
  'ERR_HTTP2_SESSION_ERROR',
  'ERR_HTTP2_GOAWAY_SESSION',
]);

/** gRPC status codes (grpc/doc/statuscodes.md). */
const GRPC = {
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
} as const;

/** The node said it did not run the call (hotcold's node 503 bodies). */
const NODE_NOT_EXECUTED = new Set(['NOT_ACTIVE', 'NOT_EXECUTED', 'EXPIRED']);

interface ErrorLike {
  name?: unknown;
  message?: unknown;
  code?: unknown;
  cause?: unknown;
  /** Node's system errors name the call that failed (`connect`, `read`, `getaddrinfo`, …). */
  syscall?: unknown;
  isAxiosError?: unknown;
  response?: unknown;
  details?: unknown;
  metadata?: unknown;
}

interface ResponseLike {
  status?: unknown;
  headers?: unknown;
  data?: unknown;
}

/**
 * The default {@link Classifier}: Node network errors, `AbortError`/`TimeoutError`, axios
 * errors (HTTP semantics, RFC 9110/6585), fetch/undici errors (`cause.code`) and grpc-js status
 * errors; anything else is an {@link UnknownOutcomeException} (may have run).
 *
 * @example
 * ```ts
 * import { ConnectionFailureException, createPolicy, defaultClassify } from 'hotcold';
 *
 * class QueueFullError extends Error {} // your client library's own error
 * const policy = createPolicy({
 *   classify: (error, context) =>
 *     error instanceof QueueFullError
 *       ? new ConnectionFailureException('queue full', { method: context.name })
 *       : defaultClassify(error, context),
 * });
 * ```
 */
export function defaultClassify(error: unknown, context: ClassifyContext): RPCException {
  if (isRPCException(error)) return error;
  const base = { method: context.name, attempts: context.attempt, cause: error };
  const e = (typeof error === 'object' && error !== null ? error : {}) as ErrorLike;
  const name = typeof e.name === 'string' ? e.name : undefined;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const written = context.written;
  const maybe = written !== false;

  if (name === 'AbortError' || name === 'CanceledError' || code === 'ERR_CANCELED' || code === 'ABORT_ERR') {
    return new CallAbortedException(`${context.name}: attempt ${context.attempt} aborted`, { ...base, mayHaveExecuted: maybe });
  }
  if (name === 'TimeoutError') return broke(`${context.name}: attempt ${context.attempt} timed out`, written, base);

  if (e.isAxiosError === true || name === 'AxiosError') {
    const response = e.response as ResponseLike | undefined;
    if (response !== undefined && response !== null && typeof response.status === 'number') return fromHttpAnswer(response, context, base);
  }
  if (typeof e.code === 'number' && typeof e.details === 'string' && typeof e.metadata === 'object' && e.metadata !== null) {
    return fromGrpcStatus(e.code, e.details, e.metadata, context, base);
  }
  // The code and the syscall of the same error: Node's own, or the socket error fetch wraps.
  const source = code !== undefined ? e : typeof e.cause === 'object' && e.cause !== null ? (e.cause as ErrorLike) : undefined;
  const network = code ?? causeCode(e.cause);
  if (network !== undefined) {
    if (NOT_CONNECTED.has(network)) {
      // No route on a read or write of an established connection (the kernel reports the ICMP
      // error it got while retransmitting): the request may have reached the server before.
      if (onEstablishedConnection(source)) return broke(`${context.name}: connection broke (${network})`, written, base);
      return new ConnectionFailureException(`${context.name}: could not connect (${network})`, base);
    }
    if (TLS_REFUSED.has(network)) {
      return new ProtocolException(`${context.name}: TLS refused the server (${network})`, { ...base, mayHaveExecuted: false });
    }
    if (CONNECTION_BROKE.has(network)) return broke(`${context.name}: connection broke (${network})`, written, base);
  }
  if (typeof e.message === 'string' && /socket hang up/i.test(e.message)) {
    return broke(`${context.name}: connection broke (socket hang up)`, written, base);
  }
  return new UnknownOutcomeException(`${context.name}: attempt ${context.attempt} failed: ${describe(error)}`, base);
}

/** A broken connection or a timeout: not executed only on the adapter's evidence. */
function broke(message: string, written: boolean | undefined, base: CauseBase): RPCException {
  return written === false ? new ConnectionFailureException(`${message} before the request was written`, base) : new UnknownOutcomeException(message, base);
}

/** Syscalls of a connection already established: their errors may come after the request went out. */
const TRANSFER_SYSCALLS = new Set(['read', 'write', 'writev', 'shutdown', 'send', 'recv', 'sendmsg', 'recvmsg']);

function onEstablishedConnection(error: ErrorLike | undefined): boolean {
  const syscall = error?.syscall;
  return typeof syscall === 'string' && TRANSFER_SYSCALLS.has(syscall);
}

function causeCode(cause: unknown): string | undefined {
  if (typeof cause !== 'object' || cause === null) return undefined;
  const code = (cause as { code?: unknown }).code;
  return typeof code === 'string' ? code : undefined;
}

function describe(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error === 'string' ? error : 'non-error thrown';
}

/** A header's first value, from axios's AxiosHeaders or a plain object. */
function header(headers: unknown, name: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  const get = (headers as { get?: unknown }).get;
  let value: unknown = typeof get === 'function' ? (get as (n: string) => unknown).call(headers, name) : undefined;
  if (value === undefined || value === null) {
    const record = headers as Record<string, unknown>;
    value = record[name] ?? record[name.toLowerCase()];
  }
  if (Array.isArray(value)) value = value[0];
  return typeof value === 'string' ? value : typeof value === 'number' ? String(value) : undefined;
}

/** An HTTP answer (RFC 9110): 4xx are answers, 5xx "maybe" unless something proves otherwise. */
function fromHttpAnswer(response: ResponseLike, context: ClassifyContext, base: CauseBase): RPCException {
  const status = response.status as number;
  const headers = response.headers;
  const node = header(headers, 'x-hotcold-node');
  const epochText = header(headers, 'x-hotcold-epoch');
  const epoch = epochText !== undefined && /^\d{1,15}$/.test(epochText) ? Number(epochText) : undefined;
  const identity = { ...base, node, epoch };
  const retryAfterMs = parseRetryAfter(header(headers, 'retry-after'));
  const label = `${context.name}: HTTP ${status}`;
  if (status === 401 || status === 403) return new AuthenticationException(status, label, identity);
  if (status === 429) return new ConnectionFailureException(`${label} (back-pressure)`, { ...identity, backPressure: true, retryAfterMs });
  if (status >= 400 && status < 500) return new RemoteCallException(status, label, response.data, identity);
  if (status >= 500 && status < 600) {
    if (header(headers, 'x-hotcold-not-forwarded') === '1' && node === undefined) {
      return new ConnectionFailureException(`${label} (the balancer forwarded nothing)`, { ...identity, retryAfterMs });
    }
    const nodeError = status === 503 && node !== undefined ? nodeErrorOf(response.data) : undefined;
    if (nodeError !== undefined) return new ConnectionFailureException(`${label} ${nodeError}`, { ...identity, retryAfterMs, nodeError });
    return new UnknownOutcomeException(`${label} without evidence that nothing ran`, identity);
  }
  return new ProtocolException(`${label} is not an answer this policy understands`, identity);
}

function nodeErrorOf(data: unknown): string | undefined {
  let body = data;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  const error = typeof body === 'object' && body !== null ? (body as { error?: unknown }).error : undefined;
  return typeof error === 'string' && NODE_NOT_EXECUTED.has(error) ? error : undefined;
}

/** What every exception of one classification carries. */
interface CauseBase {
  method: string;
  attempts: number;
  cause: unknown;
  doNotRetry?: boolean | undefined;
  /** gRFC A6 pushback (ms) for what may be retried. */
  retryAfterMs?: number | undefined;
}

/** A grpc-js status error (duck-typed: numeric `code`, `details`, `metadata`). */
function fromGrpcStatus(
  code: number,
  details: string,
  metadata: object,
  context: ClassifyContext,
  given: CauseBase,
): RPCException {
  const label = `${context.name}: gRPC status ${code}`;
  const maybe = context.written !== false;
  // gRFC A6 server pushback: "a non-negative integer" of ms delays a retry; anything else sent
  // asks the client not to retry at all, whatever the status.
  const pushback = metadataValue(metadata, 'grpc-retry-pushback-ms');
  const pushbackMs = pushback === undefined ? undefined : /^\d{1,10}$/.test(pushback) ? Number(pushback) : -1;
  const base = pushbackMs === -1 ? { ...given, doNotRetry: true } : given;
  // A valid pushback delays a retry of whatever is retried (gRFC A6), not only back-pressure.
  const retryAfterMs = pushbackMs !== undefined && pushbackMs >= 0 ? pushbackMs : undefined;
  switch (code) {
    case GRPC.CANCELLED:
      return new CallAbortedException(`${label} (cancelled)`, { ...base, mayHaveExecuted: maybe });
    case GRPC.UNAUTHENTICATED:
      return new AuthenticationException(401, label, base);
    case GRPC.PERMISSION_DENIED:
      return new AuthenticationException(403, label, base);
    case GRPC.RESOURCE_EXHAUSTED:
      // With a pushback the server throttled the call unprocessed (back-pressure); without one,
      // exhausted may mean anything, even after the work: an answer, as the gRPC adapter reads it.
      if (pushbackMs !== undefined && pushbackMs >= 0) {
        return new ConnectionFailureException(`${label} (resource exhausted)`, { ...base, backPressure: true, retryAfterMs: pushbackMs });
      }
      return new RemoteCallException(code, `${label}: ${details}`, undefined, base);
    case GRPC.UNAVAILABLE:
      return maybe
        ? new UnknownOutcomeException(`${label} (unavailable after the call may have been sent)`, { ...base, retryAfterMs })
        : new ConnectionFailureException(`${label} (unavailable before the call was sent)`, { ...base, retryAfterMs });
    case GRPC.DEADLINE_EXCEEDED:
    case GRPC.UNKNOWN:
    case GRPC.INTERNAL:
    case GRPC.DATA_LOSS:
      return broke(label, context.written, { ...base, retryAfterMs });
    default:
      // An application's answer; retried only when `retryOnCodes` opts its code in, after the pushback.
      return new RemoteCallException(code, `${label}: ${details}`, undefined, { ...base, retryAfterMs });
  }
}

function metadataValue(metadata: object, key: string): string | undefined {
  const get = (metadata as { get?: unknown }).get;
  if (typeof get !== 'function') return undefined;
  const values = (get as (k: string) => unknown).call(metadata, key);
  const first = Array.isArray(values) ? (values[0] as unknown) : values;
  return typeof first === 'string' ? first : undefined;
}
