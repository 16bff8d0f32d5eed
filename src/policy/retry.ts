/**
 * The retry loop, engaged only after a first failure.
 *
 * Pipeline use (the success path never enters this file):
 *
 *   budget.recordCall();
 *   try { return await attempt(1); }
 *   catch (first) { return await retryAfterFailure(first, attempt, { retry, rules, budget, deadline,
 *                                                   signal, method, onRetry, onBudgetExhausted }); }
 *
 * `attempt(n)` makes attempt n (1-based, sent as `X-Hotcold-Attempt`) through the breaker and the
 * transport and throws an RPCException on failure. After each failure, in this order:
 *   1. the caller's signal aborted          → CallAbortedException (or the signal's own
 *                                             DeadlineExceeded/ClientClosed reason, re-raised)
 *   2. the deadline has passed               → DeadlineExceededException
 *   3. the rules say "not retryable"         → the attempt's own error (see "final error" below)
 *   4. maxAttempts reached                   → RetriesExhaustedException('attempts', causes)
 *   5. delay = min(Retry-After, maxRetryAfterMs) if the server sent one, else backoff with jitter;
 *      the delay would reach the deadline    → DeadlineExceededException (no pointless sleep)
 *   6. the budget refuses                    → onBudgetExhausted(); RetriesExhaustedException('budget')
 *      — asked only for a retry that the outage hold does not pace (below)
 *   7. onRetry({ attempt, error, delayMs }); sleep(delay) — the signal cuts it short at once.
 *   8. a retry decided during an outage: wait until the outage is over; if it was not confirmed
 *      (no probe failed, same node: a blip, not an outage), the budget is asked now, as in 6.
 *
 * Which retries cost budget. The budget (Finagle's retry budget, gRFC A6's retry throttling)
 * exists so that retries cannot multiply the load on a struggling server. A retry decided while
 * the connection holds calls for an outage adds no such load when the outage is real: its next
 * attempt waits in the hold and goes out only after a health probe showed service is back — one
 * attempt per call per recovered outage, at most `maxPending` calls. So a retry whose outage had
 * at least one failed probe, or that ended under a new node identity (`outage.confirmed`), does
 * not draw from the budget. Every other retry does: those sent while connected (they go out
 * after their backoff alone), and those of an "outage" whose first probe already succeeded on
 * the same node (a server that fails calls while its health check passes would otherwise be
 * retried at the rate of probes, unbudgeted).
 *
 * The signal may abort with a RetriesExhaustedException as its reason (the connection gave up
 * reconnecting): the call then ends with that reason and its own causes, wherever it waited.
 *
 * Final error: the attempt's own error is thrown as is (a RemoteCallException stays one), except
 * when it says "not executed" while an earlier attempt may have executed — then it is rebuilt as
 * the same class with `mayHaveExecuted: true` and the original as `cause` (an unknown subclass
 * becomes RetriesExhaustedException('not-retryable')). RetriesExhaustedException always carries
 * every attempt's cause in order.
 *
 * Why p-retry is driven this way: p-retry@7 computes its own delay (`minTimeout * factor^n`,
 * `randomize` in [1, 2)), which cannot express full/equal/decorrelated jitter or Retry-After. So
 * its delay is zeroed (`minTimeout: 0`) and the whole decision plus the abortable sleep happens in
 * `onFailedAttempt`, which p-retry awaits before the next attempt and whose throw ends the loop
 * with that error. The first failure (already happened) is replayed as p-retry's attempt 1, so
 * p-retry's attempt numbers are the wire's. p-retry turns non-Error throws into a TypeError and
 * never retries a (non-network) TypeError; the rules never retry a non-RPCException either.
 */
import pRetry from 'p-retry';
import {
  AuthenticationException,
  CallAbortedException,
  CircuitOpenException,
  ClientClosedException,
  DeadlineExceededException,
  PendingLimitException,
  RetriesExhaustedException,
  isRPCException,
  type RetriesExhaustedReason,
  type RPCException,
  type RPCExceptionOptions,
} from '../errors.js';
import { sleep } from '../shared/sleep.js';
import { Backoff, type RandomSource, type ResolvedRetryOptions } from './backoff.js';
import type { RetryBudget } from './budget.js';
import type { Deadline } from './deadline.js';
import { decideRetry, type RetryReason, type RetryRuleContext, type RetryVerdict } from './retry-rules.js';

export interface RetryEvent {
  /** The attempt about to be made (2 for the first retry). */
  attempt: number;
  /** The failure that caused this retry. */
  error: RPCException;
  delayMs: number;
  /** `retry-after`: the server's Retry-After (capped) set the delay; `backoff`: the jitter did. */
  delaySource: 'backoff' | 'retry-after';
  reason: RetryReason;
}

export interface RetryLoopOptions {
  retry: ResolvedRetryOptions;
  /** The rule context of this call, or a function (e.g. when dedup support is learned mid-call). */
  rules: RetryRuleContext | ((error: unknown) => RetryVerdict);
  budget?: RetryBudget | undefined;
  deadline?: Deadline | undefined;
  signal?: AbortSignal | undefined;
  /** For the wrappers' `method` field. */
  method?: string | undefined;
  random?: RandomSource | undefined;
  onRetry?: ((event: RetryEvent) => void) | undefined;
  /** Called once when the budget refuses, before RetriesExhaustedException('budget') is thrown. */
  onBudgetExhausted?: ((error: RPCException) => void) | undefined;
  /** The connection's outage hold; without it every retry draws from the budget. */
  outage?: OutageHold | undefined;
}

/** What the retry loop needs to know of the connection's outage hold (connection/monitor.ts). */
export interface OutageHold {
  /** The outage holding calls right now (an id), or undefined when there is none. */
  current(): number | undefined;
  /** Resolves once no outage holds calls: `true` if service came back, `false` if the wait ended otherwise. */
  over(signal: AbortSignal | undefined): Promise<boolean>;
  /** At least one health probe of outage `id` failed: the hold really waited for recovery. */
  confirmed(id: number): boolean;
}

/** Retry-After as carried by ConnectionFailureException (node 503 NOT_ACTIVE, balancer 503). */
function retryAfterOf(error: RPCException): number | undefined {
  const value = (error as { retryAfterMs?: unknown }).retryAfterMs;
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 ? value : undefined;
}

/** Runs attempts 2..maxAttempts after `firstError` (attempt 1's failure). */
export async function retryAfterFailure<T>(
  firstError: unknown,
  attempt: (attemptNumber: number) => Promise<T>,
  options: RetryLoopOptions,
): Promise<T> {
  const { retry, budget, deadline, signal, method } = options;
  const rules = options.rules;
  const decide = typeof rules === 'function' ? rules : (error: unknown) => decideRetry(error, rules);
  const backoff = new Backoff(retry, options.random);
  const causes: RPCException[] = [];

  const wrapperOptions = (): RPCExceptionOptions => {
    const last = causes[causes.length - 1];
    const answered = [...causes].reverse().find((c) => c.node !== undefined);
    return {
      method,
      attempts: causes.length,
      cause: last,
      node: answered?.node,
      epoch: answered?.epoch,
      mayHaveExecuted: causes.some((c) => c.mayHaveExecuted),
    };
  };

  const aborted = (reason: unknown): RPCException => {
    if (reason instanceof DeadlineExceededException) return new DeadlineExceededException(reason.message, wrapperOptions());
    if (reason instanceof ClientClosedException) return new ClientClosedException(reason.message, wrapperOptions());
    // The connection gave up reconnecting: end as the held calls of that outage do.
    if (reason instanceof RetriesExhaustedException) return exhausted(reason.message, reason.reason);
    return new CallAbortedException('call aborted', { ...wrapperOptions(), cause: reason ?? causes[causes.length - 1] });
  };

  const exhausted = (message: string, reason: RetriesExhaustedReason, doNotRetry?: true): RetriesExhaustedException => {
    const { node, epoch } = wrapperOptions();
    return new RetriesExhaustedException(message, reason, causes, { method, node, epoch, doNotRetry });
  };

  const finalError = (error: RPCException): RPCException => {
    const earlierMayHaveRun = causes.slice(0, -1).some((c) => c.mayHaveExecuted);
    if (error.mayHaveExecuted || !earlierMayHaveRun) return error;
    // Same class, so callers' instanceof checks still work, but with mayHaveExecuted true; the
    // server's "do not retry" (gRFC A6) stays said, for whoever would send the call again.
    const options = { ...wrapperOptions(), doNotRetry: error.doNotRetry };
    switch (error.kind) {
      case 'call-aborted':
        return new CallAbortedException(error.message, options);
      case 'client-closed':
        return new ClientClosedException(error.message, options);
      case 'deadline-exceeded':
        return new DeadlineExceededException(error.message, options);
      case 'circuit-open':
        return new CircuitOpenException(error.message, options);
      case 'pending-limit':
        return new PendingLimitException(error.message, options);
      case 'authentication':
        return new AuthenticationException((error as AuthenticationException).status, error.message, options);
      case 'retries-exhausted':
        return exhausted(error.message, (error as RetriesExhaustedException).reason, error.doNotRetry);
      default:
        return exhausted(`${error.message} (not retryable after ${causes.length} attempts)`, 'not-retryable', error.doNotRetry);
    }
  };

  const onFailure = async (error: unknown, attemptNumber: number): Promise<void> => {
    // The abort check comes first: an abort may surface as the signal's raw reason.
    if (signal?.aborted) {
      if (isRPCException(error) && error !== signal.reason) causes.push(error);
      throw aborted(signal.reason);
    }
    if (!isRPCException(error)) throw error; // a bug or a foreign error: surface it unchanged
    causes.push(error);
    if (deadline?.expired()) throw new DeadlineExceededException(`call deadline of ${deadline.ms} ms passed`, wrapperOptions());

    const verdict = decide(error);
    if (!verdict.retry) throw finalError(error);
    if (attemptNumber >= retry.maxAttempts) {
      throw exhausted(`gave up after ${attemptNumber} attempts`, 'attempts');
    }

    const retryAfter = retryAfterOf(error);
    const delayMs = retryAfter !== undefined ? Math.min(retryAfter, retry.maxRetryAfterMs) : backoff.next();
    if (deadline && delayMs >= deadline.remaining()) {
      throw new DeadlineExceededException(
        `call deadline of ${deadline.ms} ms would pass during the ${Math.round(delayMs)} ms wait before attempt ${attemptNumber + 1}`,
        wrapperOptions(),
      );
    }
    // An outage known now paces this retry; the budget is settled when it is over (step 8).
    const outage = options.outage?.current();
    if (budget && outage === undefined && !budget.tryRetry()) {
      options.onBudgetExhausted?.(error);
      throw exhausted('retry budget exhausted', 'budget');
    }
    options.onRetry?.({
      attempt: attemptNumber + 1,
      error,
      delayMs,
      delaySource: retryAfter !== undefined ? 'retry-after' : 'backoff',
      reason: verdict.reason,
    });
    try {
      await sleep(delayMs, signal);
    } catch {
      throw aborted(signal?.reason);
    }
    if (budget && outage !== undefined && options.outage !== undefined) {
      const recovered = await options.outage.over(signal);
      if (signal?.aborted) throw aborted(signal.reason);
      // Not recovered (deadline, pending limit): the attempt reports why. A blip: pay now.
      if (recovered && !options.outage.confirmed(outage) && !budget.tryRetry()) {
        options.onBudgetExhausted?.(error);
        throw exhausted('retry budget exhausted', 'budget');
      }
    }
  };

  return pRetry(
    (attemptNumber) => {
      if (attemptNumber === 1) return Promise.reject(firstError);
      return attempt(attemptNumber);
    },
    {
      retries: Math.max(0, retry.maxAttempts - 1),
      // Our sleep in onFailedAttempt is the only delay (see the header for why).
      minTimeout: 0,
      maxTimeout: 0,
      randomize: false,
      onFailedAttempt: (context) => onFailure(context.error, context.attemptNumber),
    },
  );
}
