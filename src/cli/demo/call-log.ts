import type { RPCExceptionKind } from '../../errors.js';

/**
 * What a client saw of one logical call: the evidence the ledger is checked against. Times are
 * monotonic milliseconds (performance.now()) of this process.
 */
export interface CallRecord {
  /** The call's `Idempotency-Key` (also recorded by the ledger app when it executes). */
  key: string;
  method: string;
  startedAt: number;
  endedAt: number;
  outcome: 'ok' | 'failed';
  /** For successes: the fencing epoch the call executed under, when the answer says (the report's per-node series). */
  epoch?: number | undefined;
  /** For failures: the RPCException kind. */
  errorKind?: RPCExceptionKind | 'other' | undefined;
  /** For failures: the client's claim about whether the call may have run. */
  mayHaveExecuted?: boolean | undefined;
  attempts?: number | undefined;
  /** For JSON-RPC errors: the error code. */
  code?: number | undefined;
  message?: string | undefined;
}
