/**
 * DESIGN §2 for an attempt that ended without a complete answer, on the socket's evidence
 * (evidence.ts): "not executed" only when the request certainly was not fully written.
 *
 * | what happened                                                  | class             | ran?      |
 * | -------------------------------------------------------------- | ----------------- | --------- |
 * | socket error / timeout before the request was fully written    | ConnectionFailure | no        |
 * | socket error / close after it was written, no answer yet       | UnknownOutcome    | maybe     |
 * | timeout after it was written                                   | UnknownOutcome    | maybe     |
 * | connection lost while the answer arrived, body over the limit  | Protocol          | maybe     |
 * | the caller's signal aborted                                    | CallAborted       | = written |
 */
import { CallAbortedException, ConnectionFailureException, ProtocolException, UnknownOutcomeException, type RPCException } from '../errors.js';

export type FailureReason = 'timeout' | 'aborted' | 'network';

export interface FailureFacts {
  reason: FailureReason;
  /** The request may have reached the server (`undefined`: unknown, counts as "maybe"). */
  written: boolean | undefined;
  /** The status line and headers had arrived. */
  responseStarted: boolean;
  cause: unknown;
}

export interface FailureContext {
  name: string;
  attempt: number;
  timeoutMs: number;
}

export function classifyFailure(facts: FailureFacts, context: FailureContext): RPCException {
  const { name } = context;
  const base = { method: name, attempts: context.attempt, cause: facts.cause };
  const written = facts.written !== false || facts.responseStarted;
  const code = (facts.cause as { code?: unknown } | null | undefined)?.code;
  const detail = typeof code === 'string' ? ` (${code})` : '';
  if (facts.reason === 'aborted') {
    return new CallAbortedException(written ? `${name}: aborted after the request was sent` : `${name}: aborted before the request was sent`, {
      ...base,
      mayHaveExecuted: written,
    });
  }
  if (facts.reason === 'timeout') {
    const after = Number.isFinite(context.timeoutMs) ? ` after ${Math.round(context.timeoutMs)} ms` : '';
    if (!written) return new ConnectionFailureException(`${name}: timed out${after} before the request was sent`, base);
    return new UnknownOutcomeException(
      facts.responseStarted ? `${name}: timed out${after} while the answer was arriving` : `${name}: timed out${after} waiting for the answer`,
      base,
    );
  }
  if (!written) return new ConnectionFailureException(`${name}: connection failed before the request was sent${detail}`, base);
  if (facts.responseStarted) return new ProtocolException(`${name}: the answer was cut off${detail}`, base);
  return new UnknownOutcomeException(`${name}: connection lost after the request was sent${detail}`, base);
}
