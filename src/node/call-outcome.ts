import { JSONRPC_INTERNAL_ERROR } from '../wire.js';
import { RpcError } from './rpc-error.js';

/**
 * The one decision of what a node answers for a call, as a pure function of how far the call got
 * and what stopped it. Every other part of the node only carries it out.
 */

/**
 * How far a call's transaction got when its fate was decided.
 * - `not-started`: waiting for a transaction slot, opening the transaction, fencing, claiming the
 *   idempotency key — the handler has not run;
 * - `running`: the handler (and the write of its idempotency record) is running; COMMIT not sent;
 * - `commit-sent`: COMMIT was sent and not acknowledged;
 * - `committed`: COMMIT was acknowledged.
 */
export type CallPhase = 'not-started' | 'running' | 'commit-sent' | 'committed';

/** What ended a call that did not commit. */
export type CallStop =
  /** The handler threw (an `RpcError`, or anything else it let escape that is not infrastructure). */
  | { kind: 'handler-error'; error: unknown }
  /** The database, driver, connection or a node statement (fence, dedup, feed append) failed. */
  | { kind: 'infrastructure' }
  /**
   * The store failed and certifies that nothing was committed (a `LeaseError` with
   * `committed === false`, e.g. SQLite's busy error after its bound) — even at COMMIT.
   */
  | { kind: 'not-committed' }
  /** The lease was lost or its self-fencing deadline passed. */
  | { kind: 'lease-lost' }
  /** The caller's time (`X-Hotcold-Timeout-Ms`) was spent. */
  | { kind: 'expired' }
  /** The node stopped, or a drain timed out. */
  | { kind: 'stopped' }
  /** The handler left its transaction idle past `idleInTransactionTimeoutMs`: the node ended the call. */
  | { kind: 'idle' };

export type CallAnswer =
  /** The transaction committed: answer what it produced (result, stored result or key conflict). */
  | { kind: 'committed' }
  /** The handler's own error, as a JSON-RPC error object. The transaction did not commit. */
  | { kind: 'rpc-error'; code: number; message: string; data?: unknown }
  /** `503`: certainly not executed. */
  | { kind: 'not-executed'; error: 'NOT_EXECUTED' | 'EXPIRED' }
  /** `500`: COMMIT was sent and its fate is unknown: maybe executed. */
  | { kind: 'commit-unknown' };

/**
 * Decides the answer. Rules (property-tested in test/node/call-outcome.test.ts):
 * - committed → the committed outcome, whatever happened afterwards;
 * - the store certifies nothing was committed → `NOT_EXECUTED` (in any phase but committed);
 * - commit sent, not acknowledged → `COMMIT_UNKNOWN`, whatever else the reason;
 * - before COMMIT: the caller's time spent → `EXPIRED`; lease lost, node stopped, the handler idle
 *   in its transaction too long, infrastructure failure → `NOT_EXECUTED`; only the handler's own error while it ran becomes a JSON-RPC error
 *   (`RpcError` as given, anything else `-32603` without its message).
 */
export function decideAnswer(phase: CallPhase, stop: CallStop): CallAnswer {
  if (phase === 'committed') return { kind: 'committed' };
  if (stop.kind === 'not-committed') return { kind: 'not-executed', error: 'NOT_EXECUTED' };
  if (phase === 'commit-sent') return { kind: 'commit-unknown' };
  switch (stop.kind) {
    case 'expired':
      return { kind: 'not-executed', error: 'EXPIRED' };
    case 'lease-lost':
    case 'stopped':
    case 'idle':
    case 'infrastructure':
      return { kind: 'not-executed', error: 'NOT_EXECUTED' };
    case 'handler-error':
      // A handler cannot have thrown before it started: whatever this is, nothing ran.
      if (phase === 'not-started') return { kind: 'not-executed', error: 'NOT_EXECUTED' };
      if (stop.error instanceof RpcError) {
        const { code, message, data } = stop.error;
        return data === undefined ? { kind: 'rpc-error', code, message } : { kind: 'rpc-error', code, message, data };
      }
      return { kind: 'rpc-error', code: JSONRPC_INTERNAL_ERROR, message: 'internal error' };
  }
}
