import { inspect } from 'node:util';
import { redactDeep, redactText, type SecretScope } from './shared/redact.js';

/**
 * The kind of an {@link RPCException}: a stable string to switch on, safe to log and to put in
 * metrics (the class name can be mangled by bundlers; this cannot).
 */
export type RPCExceptionKind =
  | 'connection-failure'
  | 'unknown-outcome'
  | 'remote-call'
  | 'authentication'
  | 'protocol'
  | 'circuit-open'
  | 'deadline-exceeded'
  | 'retries-exhausted'
  | 'client-closed'
  | 'call-aborted'
  | 'pending-limit';

/**
 * What an {@link RPCException} knows about the call it ends, given to its constructor. Every field
 * is optional; the exception's own fields default as documented there.
 */
export interface RPCExceptionOptions {
  /** The JSON-RPC method called. */
  method?: string | undefined;
  /** Attempts made before the failure. @defaultValue 0 */
  attempts?: number | undefined;
  /** The node that answered last (`X-Hotcold-Node`). */
  node?: string | undefined;
  /** The fencing token the last answering node served under (`X-Hotcold-Epoch`). */
  epoch?: number | undefined;
  /**
   * The underlying failure. Reduced to a credential-free `Error` (name, redacted message, `code`,
   * `syscall`) before it is kept; an `RPCException` is kept as it is.
   */
  cause?: unknown;
  /** Overrides the class default where the truth is known better (e.g. an aborted call). */
  mayHaveExecuted?: boolean | undefined;
  /**
   * The server asked that the call not be retried: gRFC A6 reads a negative or malformed
   * `grpc-retry-pushback-ms` as "do not retry at all". No retry rule sends the call again.
   * @defaultValue false
   */
  doNotRetry?: boolean | undefined;
}

/** A JSON-safe summary of an error cause: never the raw object, which may hold credentials. */
export interface CauseSummary {
  /** The cause's `name` (`Error` when it had none). */
  name: string;
  /** The cause's message, with credentials redacted. */
  message: string;
  /** The cause's `code` when it had one, e.g. Node's `ECONNRESET` or a driver's SQLSTATE. */
  code?: string | number | undefined;
  /** When the cause is itself an {@link RPCException}: its kind. */
  kind?: RPCExceptionKind | undefined;
}

/**
 * Reduces any thrown value to a small Error that carries no request configuration. axios errors
 * hold the request config (headers with `Authorization`, the body, the URL with userinfo) and
 * Node's `util.inspect` prints an error's `cause` chain in full, so the raw error must never be
 * kept as a cause.
 */
export function sanitizeCause(cause: unknown): Error | undefined {
  if (cause === undefined || cause === null) return undefined;
  if (cause instanceof RPCException) return cause;
  const source = cause as { name?: unknown; message?: unknown; code?: unknown; syscall?: unknown };
  const name = typeof source.name === 'string' ? source.name : 'Error';
  // A thrown non-Error gets String(): an object without its own toString reads [object Object], which is
  // kept over JSON, whose fields could carry a credential past redactText's patterns.
  // eslint-disable-next-line @typescript-eslint/no-base-to-string
  const message = redactText(typeof source.message === 'string' ? source.message : String(cause));
  const clean = new Error(message);
  clean.name = name;
  if (typeof source.code === 'string' || typeof source.code === 'number') {
    Object.defineProperty(clean, 'code', { value: source.code, enumerable: true });
  }
  if (typeof source.syscall === 'string') {
    Object.defineProperty(clean, 'syscall', { value: source.syscall, enumerable: true });
  }
  // The stack of the original error names only our frames and Node's; keep the clean one.
  clean.stack = `${name}: ${message}`;
  return clean;
}

function summarize(cause: unknown): CauseSummary | undefined {
  if (cause === undefined) return undefined;
  if (cause instanceof RPCException) {
    return { name: cause.name, message: cause.message, kind: cause.kind };
  }
  const e = cause as { name?: unknown; message?: unknown; code?: unknown };
  const code = typeof e.code === 'string' || typeof e.code === 'number' ? e.code : undefined;
  return {
    name: typeof e.name === 'string' ? e.name : 'Error',
    // A thrown non-Error gets String(): an object without its own toString reads [object Object], which is
    // kept over JSON (see above).
    // eslint-disable-next-line @typescript-eslint/no-base-to-string
    message: redactText(typeof e.message === 'string' ? e.message : String(cause)),
    ...(code !== undefined ? { code } : {}),
  };
}

/** Where an error keeps its owner's {@link SecretScope}: a symbol, so it never serialises. */
const SCOPE = Symbol('hotcold.secretScope');

/**
 * Binds `error` (and its causes) to its owner's secrets: the message and stack are scrubbed of
 * the scope's literal secrets now, and `toJSON()`/`util.inspect` scrub everything they print,
 * server payloads included. The client calls this on every error it hands out.
 */
export function bindSecretScope<E>(error: E, scope: SecretScope): E {
  if (!(error instanceof RPCException) || scope.empty) return error;
  const frozen = scope.snapshot();
  if (error[SCOPE] === frozen) return error;
  error[SCOPE] = frozen;
  const writable = error as { message: string; stack?: string | undefined };
  writable.message = scope.text(error.message);
  if (error.stack !== undefined) writable.stack = scope.text(error.stack);
  if (error.cause instanceof Error) {
    const cause = error.cause as { message: string; stack?: string | undefined };
    if (error.cause instanceof RPCException) bindSecretScope(error.cause, scope);
    else {
      cause.message = scope.text(cause.message);
      if (cause.stack !== undefined) cause.stack = scope.text(cause.stack);
    }
  }
  if (error instanceof RetriesExhaustedException) for (const c of error.causes) bindSecretScope(c, scope);
  return error;
}

/**
 * Every failure of a call is one of these. The subclass answers one question: may this call
 * have run on the server? ({@link RPCException.mayHaveExecuted}).
 */
export abstract class RPCException extends Error {
  /** Which failure this is: a stable string to switch on, log and count (the subclass's). */
  abstract readonly kind: RPCExceptionKind;
  /** The JSON-RPC method of the failed call, when the failure belongs to one. */
  readonly method: string | undefined;
  /** Attempts made (sent or tried) before this error was raised. */
  readonly attempts: number;
  /** The node that answered last, from `X-Hotcold-Node`, when one did. */
  readonly node: string | undefined;
  /** The fencing token the last answering node served under, from `X-Hotcold-Epoch`. */
  readonly epoch: number | undefined;
  /** False only when it is certain the server did not execute the call. */
  readonly mayHaveExecuted: boolean;
  /**
   * `true` when the server asked that the call not be retried (gRFC A6: a negative or malformed
   * `grpc-retry-pushback-ms`); absent otherwise. Set only when true, so every other exception keeps
   * its shape.
   */
  declare readonly doNotRetry?: true;
  /**
   * The owner's literal secrets, once `bindSecretScope` ran (never serialised).
   * @internal
   */
  [SCOPE]: SecretScope | undefined;

  protected constructor(message: string, defaultMayHaveExecuted: boolean, options: RPCExceptionOptions = {}) {
    const cause = sanitizeCause(options.cause);
    super(redactText(message), cause === undefined ? undefined : { cause });
    this.name = new.target.name;
    this.method = options.method;
    this.attempts = options.attempts ?? 0;
    this.node = options.node;
    this.epoch = options.epoch;
    this.mayHaveExecuted = options.mayHaveExecuted ?? defaultMayHaveExecuted;
    if (options.doNotRetry === true) (this as { doNotRetry?: true }).doNotRetry = true;
  }

  /**
   * A JSON-safe summary, scrubbed deeply of credentials (server payloads included): what
   * `JSON.stringify(error)`, `util.inspect(error)` and loggers print.
   */
  toJSON(): Record<string, unknown> {
    return redactDeep(this.fields(), this[SCOPE]) as Record<string, unknown>;
  }

  /** The fields {@link toJSON} prints, before scrubbing; subclasses add theirs. */
  protected fields(): Record<string, unknown> {
    return {
      name: this.name,
      kind: this.kind,
      message: this.message,
      method: this.method,
      attempts: this.attempts,
      node: this.node,
      epoch: this.epoch,
      mayHaveExecuted: this.mayHaveExecuted,
      ...(this.doNotRetry === true ? { doNotRetry: true } : {}),
      cause: summarize(this.cause),
    };
  }

  /** What `util.inspect` (and so `console.log`) prints: the stack, then the scrubbed {@link toJSON}. */
  [inspect.custom](): string {
    return `${this.stack ?? `${this.name}: ${this.message}`}\n  ${inspect(this.toJSON(), { depth: 3 })}`;
  }
}

/**
 * The call certainly did not run, on evidence: the request was never fully written, a node's own
 * `503` (`NOT_ACTIVE`, `NOT_EXECUTED`, `EXPIRED`), a balancer answer marked
 * `X-Hotcold-Not-Forwarded: 1`, or a `429` (back-pressure).
 */
export class ConnectionFailureException extends RPCException {
  readonly kind = 'connection-failure' as const;
  /** Server's `Retry-After`, in milliseconds, when it sent one. */
  readonly retryAfterMs: number | undefined;
  /**
   * A `429` (RFC 6585): the server is alive and asks the client to slow down. Not an outage and
   * not a breaker failure; the backend's "not before" time follows `retryAfterMs`.
   */
  readonly backPressure: boolean;
  /** The node's own reason when a node said it did not run the call: `NOT_ACTIVE`, `NOT_EXECUTED` or `EXPIRED`. */
  readonly nodeError: string | undefined;
  constructor(
    message: string,
    options: RPCExceptionOptions & {
      retryAfterMs?: number | undefined;
      backPressure?: boolean | undefined;
      nodeError?: string | undefined;
    } = {},
  ) {
    super(message, false, options);
    this.retryAfterMs = options.retryAfterMs;
    this.backPressure = options.backPressure ?? false;
    this.nodeError = options.nodeError;
  }
}

/** The request was (or may have been) delivered and no complete answer came back. */
export class UnknownOutcomeException extends RPCException {
  readonly kind = 'unknown-outcome' as const;
  /**
   * The server's pushback in milliseconds (gRFC A6 `grpc-retry-pushback-ms` ≥ 0), when it sent
   * one: a call repeated after this failure (idempotent, or keyed and deduplicated) waits this
   * long instead of its backoff, capped by `retry.maxRetryAfterMs`. Absent otherwise.
   */
  declare readonly retryAfterMs?: number;
  constructor(message: string, options: RPCExceptionOptions & { retryAfterMs?: number | undefined } = {}) {
    super(message, true, options);
    if (options.retryAfterMs !== undefined) (this as { retryAfterMs?: number }).retryAfterMs = options.retryAfterMs;
  }
  protected override fields(): Record<string, unknown> {
    return this.retryAfterMs === undefined ? super.fields() : { ...super.fields(), retryAfterMs: this.retryAfterMs };
  }
}

/** The server executed the call and answered with a JSON-RPC `error` object. */
export class RemoteCallException extends RPCException {
  readonly kind = 'remote-call' as const;
  /** The JSON-RPC error code. */
  readonly code: number;
  /** The error object's `data` member as the server sent it (may be `undefined`). */
  readonly data: unknown;
  /**
   * The server's pushback in milliseconds (gRFC A6 `grpc-retry-pushback-ms` ≥ 0), when it sent
   * one: a retry of this answer (its code opted in by `retryOnCodes`, gRFC A6's
   * `retryableStatusCodes`) waits this long instead of its backoff, capped by
   * `retry.maxRetryAfterMs`. Absent otherwise.
   */
  declare readonly retryAfterMs?: number;
  constructor(code: number, message: string, data: unknown, options: RPCExceptionOptions & { retryAfterMs?: number | undefined } = {}) {
    super(message, true, options);
    this.code = code;
    this.data = data;
    if (options.retryAfterMs !== undefined) (this as { retryAfterMs?: number }).retryAfterMs = options.retryAfterMs;
  }
  protected override fields(): Record<string, unknown> {
    // `data` is the server's: it may echo anything, credentials included (toJSON scrubs it).
    const fields = { ...super.fields(), code: this.code, data: this.data };
    return this.retryAfterMs === undefined ? fields : { ...fields, retryAfterMs: this.retryAfterMs };
  }
}

/** `401` or `403`: the request was refused before execution. */
export class AuthenticationException extends RPCException {
  readonly kind = 'authentication' as const;
  /** The HTTP status: `401` or `403`. */
  readonly status: number;
  constructor(status: number, message: string, options: RPCExceptionOptions = {}) {
    super(message, false, options);
    this.status = status;
  }
}

/** The answer was not a valid JSON-RPC response (or too large); the call may have run. */
export class ProtocolException extends RPCException {
  readonly kind = 'protocol' as const;
  constructor(message: string, options: RPCExceptionOptions = {}) {
    super(message, true, options);
  }
}

/** The circuit breaker is open: the call was not attempted. */
export class CircuitOpenException extends RPCException {
  readonly kind = 'circuit-open' as const;
  constructor(message: string, options: RPCExceptionOptions = {}) {
    super(message, false, options);
  }
}

/** The whole-call deadline passed. `mayHaveExecuted` is true if any attempt may have run. */
export class DeadlineExceededException extends RPCException {
  readonly kind = 'deadline-exceeded' as const;
  constructor(message: string, options: RPCExceptionOptions = {}) {
    super(message, true, options);
  }
}

/**
 * Why a {@link RetriesExhaustedException} ended the call:
 * - `attempts`: `retry.maxAttempts` attempts were made;
 * - `budget`: the client-wide retry budget refused another retry;
 * - `reconnect`: the client gave up on the outage (`maxReconnectAttempts` probes failed);
 * - `not-retryable`: the last failure is not retryable and says "not executed" while an earlier
 *   attempt may have executed, so it is reported as this exception with `mayHaveExecuted: true`.
 */
export type RetriesExhaustedReason = 'attempts' | 'budget' | 'reconnect' | 'not-retryable';

/** No more attempts are allowed; {@link causes} holds every attempt's failure in order. */
export class RetriesExhaustedException extends RPCException {
  readonly kind = 'retries-exhausted' as const;
  /** Why no further attempt is made. */
  readonly reason: RetriesExhaustedReason;
  /** Every attempt's failure, oldest first; the last one is also the `cause`. */
  readonly causes: readonly RPCException[];
  constructor(
    message: string,
    reason: RetriesExhaustedReason,
    causes: readonly RPCException[],
    options: RPCExceptionOptions = {},
  ) {
    super(message, causes.some((c) => c.mayHaveExecuted), {
      cause: causes[causes.length - 1],
      attempts: causes.length,
      ...options,
    });
    this.reason = reason;
    this.causes = causes;
  }
  protected override fields(): Record<string, unknown> {
    return { ...super.fields(), reason: this.reason, causes: this.causes.map((c) => summarize(c)) };
  }
}

/** The client was closed before or while the call ran. */
export class ClientClosedException extends RPCException {
  readonly kind = 'client-closed' as const;
  constructor(message = 'client is closed', options: RPCExceptionOptions = {}) {
    super(message, false, options);
  }
}

/** The caller's AbortSignal fired. `mayHaveExecuted` says whether a request had been sent. */
export class CallAbortedException extends RPCException {
  readonly kind = 'call-aborted' as const;
  constructor(message = 'call aborted', options: RPCExceptionOptions = {}) {
    super(message, false, options);
  }
}

/** Too many calls are already waiting for the connection to come back (`maxPending`). */
export class PendingLimitException extends RPCException {
  readonly kind = 'pending-limit' as const;
  constructor(message: string, options: RPCExceptionOptions = {}) {
    super(message, false, options);
  }
}

/**
 * Invalid options, thrown synchronously at construction. `field` is the option's path
 * (e.g. `retry.maxAttempts`); the value itself is never echoed, as it may be a secret.
 */
export class ConfigurationError extends Error {
  /** The option's path, e.g. `retry.maxAttempts` or `url[1]`. */
  readonly field: string;
  /** What is wrong with it, e.g. `must be a positive integer` (never the value). */
  readonly reason: string;
  constructor(field: string, reason: string) {
    super(`invalid option ${field}: ${reason}`);
    this.name = 'ConfigurationError';
    this.field = field;
    this.reason = reason;
  }
}

/**
 * True when `value` is an {@link RPCException} (of this copy of hotcold): narrows a `catch`
 * clause's `unknown`.
 * @example
 * ```ts
 * import { createClient, isRPCException } from 'hotcold';
 *
 * const client = createClient({ url: 'http://balancer:8080' });
 * try {
 *   await client.call('balance', { account: 'A' });
 * } catch (error) {
 *   if (isRPCException(error) && !error.mayHaveExecuted) console.log('not run:', error.kind);
 * }
 * ```
 */
export function isRPCException(value: unknown): value is RPCException {
  return value instanceof RPCException;
}
