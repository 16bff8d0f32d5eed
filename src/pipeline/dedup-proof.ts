/**
 * Before a call that MAY have run is sent again on the strength of a learned dedup statement (a
 * non-idempotent operation, `serverDeduplicates` not configured), the pipeline needs proof that
 * the node about to receive it deduplicates in its current term (issue 8 §1). What it remembers
 * is only a statement by one node in one term (see connection/dedup-facts.ts); behind a balancer
 * the serving node may have changed without the pipeline seeing it — the very failure being
 * retried (a 502, a reset, a timeout) names no node. So it always asks the backend who serves
 * now (the adapter's `ask`: for JSON-RPC, `GET /health`): the answer must name the node and term.
 * A new identity is reported to the monitor (a failover: every fact of the old term is
 * forgotten), then the new statement is recorded; proven only if that node advertises dedup in
 * that term.
 *
 * A serving node that does not advertise dedup in its term is proof of the opposite: the call is
 * not repeated. An ask that fails or finds no active node proves nothing yet: the caller treats
 * that as a connection failure (an outage: the call waits in the hold) and asks again after it.
 * An ask answered with back-pressure (a 429) proves nothing either, but the node is alive: no
 * outage; the caller waits out the pause and asks again.
 * One ask per such retry, on failures only: the success path never comes here.
 *
 * An ask its caller ended (the call's signal aborted: the caller cancelled, close(), an
 * adapter's cancel) says nothing about the backend either way — neither "deduplicates" nor "no
 * active node": it is `left`, and the caller ends with its own abort, no outage announced.
 */
import type { ConnectionMonitor } from '../connection/monitor.js';
import type { DedupFacts } from '../connection/dedup-facts.js';

/** Who serves behind a backend now, as the adapter's ask learned it. */
export interface DedupAnswer {
  /** An active node answered. */
  ok: boolean;
  /** The protocol's status (HTTP): a 4xx other than 429 means "no such check here", proving nothing ever. */
  status?: number | undefined;
  node?: string | undefined;
  epoch?: number | undefined;
  dedup?: boolean | undefined;
  /** The server answered and asked for a pause (a 429): alive, but it told nothing. */
  backPressure?: boolean | undefined;
  /** The pause it asked for, in ms (its Retry-After), when it named one. */
  retryAfterMs?: number | undefined;
}

export type DedupAsk = (backend: string, options: { timeoutMs: number; signal?: AbortSignal | undefined }) => Promise<DedupAnswer>;

export interface DedupProofContext {
  monitor: ConnectionMonitor;
  facts: DedupFacts;
  ask: DedupAsk;
  probeTimeoutMs: number;
  signal?: AbortSignal | undefined;
  /** The ask was answered with back-pressure: the pause it named (ms), if any. */
  onBackPressure?: ((backend: string, retryAfterMs: number | undefined) => void) | undefined;
}

/**
 * `unreachable`: no answer, or no active node, so nothing is known yet. `paced`: the backend is
 * alive and asked for a pause (a 429); {@link DedupProofContext.onBackPressure} heard of it first.
 * `left`: the caller ended the ask (its signal aborted): no evidence of anything.
 */
export type DedupProof = 'proven' | 'not-proven' | 'unreachable' | 'paced' | 'left';

export async function proveDeduplication(context: DedupProofContext): Promise<DedupProof> {
  const { monitor, facts } = context;
  const backend = monitor.backend;
  // Always ask, even when the failure itself came from a node that dedups in its term: behind a
  // balancer the node receiving the repeat may already be another one. The ask narrows that
  // window to one round trip; it cannot close it (docs/client.md, "Learned facts").
  let answer: DedupAnswer;
  try {
    answer = await context.ask(backend, { timeoutMs: context.probeTimeoutMs, signal: context.signal });
  } catch {
    // The caller's own abort is not the backend failing to answer.
    return context.signal?.aborted === true ? 'left' : 'unreachable';
  }
  if (!answer.ok) {
    if (answer.backPressure === true) {
      context.onBackPressure?.(backend, answer.retryAfterMs);
      return 'paced';
    }
    const status = answer.status;
    return status !== undefined && status >= 400 && status < 500 && status !== 429 ? 'not-proven' : 'unreachable';
  }
  // Proof names who: an answer without the node and its term proves nothing about the node that
  // will receive the repeat (a sidecar or a proxy may answer a health check for anyone).
  if (answer.node === undefined || answer.epoch === undefined) return 'not-proven';
  monitor.reportAnswer(answer.node, answer.epoch, monitor.generation);
  if (!monitor.isServing(answer.node, answer.epoch)) return 'not-proven'; // a deposed node's late word
  facts.record(backend, answer.node, answer.epoch, answer.dedup === true);
  return facts.holds(backend, answer.node, answer.epoch) ? 'proven' : 'not-proven';
}
