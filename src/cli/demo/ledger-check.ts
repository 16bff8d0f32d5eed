import type { CallRecord } from './call-log.js';

/**
 * The end-to-end verdict: compares what clients were told with what the ledger table says ran.
 *
 * - acknowledged calls must be in the ledger exactly once (else "lost" or "duplicate");
 * - no key may be in the ledger more than once, acknowledged or not ("duplicate");
 * - a failure the client reported as certainly-not-executed (`mayHaveExecuted: false`) must not
 *   be in the ledger ("misclassified": the classification lied);
 * - a failure reported as maybe-executed may or may not be in the ledger: both are truthful.
 */
export interface LedgerVerdict {
  calls: number;
  acknowledged: number;
  failedCalls: number;
  /** Acknowledged calls whose key is not in the ledger. */
  lost: number;
  /** Keys executed more than once (each extra execution counts once). */
  duplicates: number;
  /** Failures claimed not executed whose key is in the ledger. */
  misclassified: number;
  /** Failures claimed maybe-executed that did execute (truthful; for information). */
  failedButExecuted: number;
  /** Ledger keys no client call accounts for. */
  unaccounted: number;
  /** Failures by error kind. */
  failuresByKind: Record<string, number>;
  /** A few offending keys per problem, for the report. */
  examples: { lost: string[]; duplicates: string[]; misclassified: string[]; unaccounted: string[] };
  ok: boolean;
}

const MAX_EXAMPLES = 5;

/**
 * @param ledger one entry per execution: the idempotency key of each ledger row (a key that ran
 *   twice appears twice), or a map key → number of executions.
 */
export function checkLedger(calls: readonly CallRecord[], ledger: Iterable<string> | ReadonlyMap<string, number>): LedgerVerdict {
  const executions = new Map<string, number>();
  if (ledger instanceof Map) {
    for (const [key, count] of ledger as ReadonlyMap<string, number>) executions.set(key, count);
  } else {
    for (const key of ledger as Iterable<string>) executions.set(key, (executions.get(key) ?? 0) + 1);
  }

  const examples: LedgerVerdict['examples'] = { lost: [], duplicates: [], misclassified: [], unaccounted: [] };
  const note = (list: string[], key: string): void => {
    if (list.length < MAX_EXAMPLES) list.push(key);
  };
  const byKey = new Map<string, CallRecord>();
  let acknowledged = 0;
  let failedCalls = 0;
  let lost = 0;
  let misclassified = 0;
  let failedButExecuted = 0;
  let duplicates = 0;
  const failuresByKind: Record<string, number> = {};

  for (const call of calls) {
    if (byKey.has(call.key)) throw new Error(`call log has the idempotency key ${call.key} twice: keys must be unique per logical call`);
    byKey.set(call.key, call);
    const ran = executions.get(call.key) ?? 0;
    if (call.outcome === 'ok') {
      acknowledged += 1;
      if (ran === 0) {
        lost += 1;
        note(examples.lost, call.key);
      }
    } else {
      failedCalls += 1;
      const kind = call.errorKind ?? 'other';
      failuresByKind[kind] = (failuresByKind[kind] ?? 0) + 1;
      if (ran > 0 && call.mayHaveExecuted === false) {
        misclassified += 1;
        note(examples.misclassified, call.key);
      } else if (ran > 0) {
        failedButExecuted += 1;
      }
    }
  }
  let unaccounted = 0;
  for (const [key, count] of executions) {
    if (count > 1) {
      duplicates += count - 1;
      note(examples.duplicates, key);
    }
    if (!byKey.has(key)) {
      unaccounted += 1;
      note(examples.unaccounted, key);
    }
  }
  return {
    calls: calls.length,
    acknowledged,
    failedCalls,
    lost,
    duplicates,
    misclassified,
    failedButExecuted,
    unaccounted,
    failuresByKind,
    examples,
    ok: lost === 0 && duplicates === 0 && misclassified === 0 && unaccounted === 0,
  };
}
