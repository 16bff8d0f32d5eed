/**
 * Whether a failed attempt may be retried: DESIGN §2's "retried" column as one pure function.
 *
 * Pipeline use: build one {@link RetryRuleContext} per logical call (method policy, whether the
 * call carries an Idempotency-Key, whether the backend advertised `X-Hotcold-Dedup` or the client
 * was told `serverDeduplicates: true`, the breaker's `whenOpen`) and pass it to
 * `retryAfterFailure` (retry.ts), which calls {@link decideRetry} after every failed attempt. A
 * `retry: false` verdict ends the call; its `reason` is meant for events and logs.
 *
 * The rule that matters most: a call whose outcome is unknown (it may have run) is repeated only
 * when running it twice is harmless — the method is idempotent, or the server deduplicates it by
 * its Idempotency-Key. A call that certainly never ran (ConnectionFailure) is always safe to send
 * again.
 */
import { isRPCException, type RemoteCallException, type RPCException } from '../errors.js';

/**
 * What an attempt does when its backend's breaker is open: `fail` at once with
 * `CircuitOpenException`, or `wait` until the breaker lets a trial through (within the deadline).
 */
export type WhenOpen = 'fail' | 'wait';

export interface RetryRuleContext {
  /** The method is declared safe to run twice. */
  idempotent: boolean;
  /** JSON-RPC error codes this method opted in to retry (default none). */
  retryOnCodes?: readonly number[] | undefined;
  /** The call carries an `Idempotency-Key` (the same on every attempt). */
  hasIdempotencyKey: boolean;
  /** The backend advertised `X-Hotcold-Dedup: 1`, or the client option `serverDeduplicates: true`. */
  serverDeduplicates: boolean;
  /** The breaker policy for an open circuit. Default `'fail'`. */
  whenOpen?: WhenOpen | undefined;
}

/** Why a retry is allowed. */
export type RetryReason =
  /** The attempt certainly did not run (connect failure, no backend, NOT_ACTIVE). */
  | 'not-executed'
  /** It may have run, and the method is idempotent. */
  | 'idempotent'
  /** It may have run, and the server deduplicates by Idempotency-Key. */
  | 'deduplicated'
  /** The server answered with an error code this method opted in to retry. */
  | 'retry-on-code'
  /** The breaker was open and the policy is to wait for it. */
  | 'circuit-wait';

/** Why a retry is refused. */
export type NoRetryReason =
  /** It may have run and repeating it is not known to be safe. */
  | 'may-have-executed'
  /** The server executed the call and answered with an error (not opted in). */
  | 'remote-error'
  /** 401/403: repeating it will not help. */
  | 'authentication'
  /** The breaker is open and the policy is to fail fast. */
  | 'circuit-open'
  /** Already a whole-call outcome: deadline, exhausted, closed, aborted, pending limit. */
  | 'final'
  /** Not an RPCException: a bug or a foreign error, never retried blindly. */
  | 'unclassified'
  /** The server asked not to be retried (gRFC A6: a negative or malformed pushback), whatever the failure's class. */
  | 'server-declined';

export type RetryVerdict = { retry: true; reason: RetryReason } | { retry: false; reason: NoRetryReason };

const RETRY = (reason: RetryReason): RetryVerdict => ({ retry: true, reason });
const NO_RETRY = (reason: NoRetryReason): RetryVerdict => ({ retry: false, reason });

/** The verdict for a call that may have run: safe only if idempotent or deduplicated. */
function whenOutcomeUnknown(context: RetryRuleContext): RetryVerdict {
  if (context.idempotent) return RETRY('idempotent');
  if (context.hasIdempotencyKey && context.serverDeduplicates) return RETRY('deduplicated');
  return NO_RETRY('may-have-executed');
}

/** Total over every value: never throws, always returns a verdict. */
export function decideRetry(error: unknown, context: RetryRuleContext): RetryVerdict {
  if (!isRPCException(error)) return NO_RETRY('unclassified');
  const e: RPCException = error;
  // gRFC A6: the server's "do not retry" overrides every rule below, "not executed" included.
  if (e.doNotRetry === true) return NO_RETRY('server-declined');
  switch (e.kind) {
    case 'connection-failure':
      return RETRY('not-executed');
    case 'unknown-outcome':
      return whenOutcomeUnknown(context);
    case 'protocol':
      // Only a request that could not be serialised is a 'not executed' protocol error: sending
      // the same params again fails the same way.
      return e.mayHaveExecuted ? whenOutcomeUnknown(context) : NO_RETRY('final');
    case 'remote-call': {
      const code = (e as RemoteCallException).code;
      return context.retryOnCodes?.includes(code) === true ? RETRY('retry-on-code') : NO_RETRY('remote-error');
    }
    case 'authentication':
      return NO_RETRY('authentication');
    case 'circuit-open':
      return context.whenOpen === 'wait' ? RETRY('circuit-wait') : NO_RETRY('circuit-open');
    case 'deadline-exceeded':
    case 'retries-exhausted':
    case 'client-closed':
    case 'call-aborted':
    case 'pending-limit':
      return NO_RETRY('final');
    default:
      // A subclass from a newer version of this library: unknown means not retried.
      return NO_RETRY('unclassified');
  }
}
