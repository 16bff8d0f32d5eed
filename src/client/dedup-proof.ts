/**
 * Before a call that MAY have run is sent again on the strength of `X-Hotcold-Dedup` (a
 * non-idempotent method, `serverDeduplicates` not configured), the client needs proof that the
 * node about to receive it deduplicates in its current term (issue 8 §1). What it remembers is
 * only a statement by one node in one term (see connection/dedup-facts.ts); behind a balancer the
 * serving node may have changed without the client seeing it — the very failure being retried
 * (a 502, a reset, a timeout) names no node. So:
 *
 *   - the failure itself came from the node known to be serving, in the term that advertised
 *     dedup (its own headers say so) → proven;
 *   - otherwise ask the backend's `/health` who serves now: it names the node and term (and a
 *     hotcold node sends `X-Hotcold-Dedup` there too). A new identity is reported to the monitor
 *     (a failover: every fact of the old term is forgotten), then the new statement is recorded;
 *     proven only if that node advertises dedup in that term.
 *
 * A serving node that does not advertise dedup in its term is proof of the opposite: the call is
 * not repeated. A probe that fails or finds no active node proves nothing yet: the caller treats
 * that as a connection failure (an outage: the call waits in the hold) and asks again after it. One GET per such retry, on failures only: the success path never comes here.
 */
import type { RPCException } from '../errors.js';
import type { ConnectionMonitor } from '../connection/monitor.js';
import type { DedupFacts } from '../connection/dedup-facts.js';
import type { HealthResult, Transport } from '../transport/types.js';

export interface DedupProofContext {
  monitor: ConnectionMonitor;
  facts: DedupFacts;
  transport: Transport;
  /** The failure that may have run and is about to be repeated. */
  failure: RPCException;
  probeTimeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** `unreachable`: no answer, or no active node, so nothing is known yet. */
export type DedupProof = 'proven' | 'not-proven' | 'unreachable';

export async function proveDeduplication(context: DedupProofContext): Promise<DedupProof> {
  const { monitor, facts, failure } = context;
  const backend = monitor.backend;
  if (failure.node !== undefined && monitor.isServing(failure.node, failure.epoch) && facts.holds(backend, failure.node, failure.epoch)) {
    return 'proven';
  }
  let health: HealthResult;
  try {
    health = await context.transport.health(backend, { timeoutMs: context.probeTimeoutMs, signal: context.signal });
  } catch {
    return 'unreachable';
  }
  // No active node right now (a failover in progress): no proof either way yet; try again once
  // service is back. A 4xx (no /health behind this URL) will not change: it proves nothing.
  if (!health.ok) return health.status >= 400 && health.status < 500 && health.status !== 429 ? 'not-proven' : 'unreachable';
  // A healthy answer from the active node is as good as the monitor's own probe: report it
  // first (a new identity forgets the old term's facts), then record what this term says.
  monitor.reportAnswer(health.node, health.epoch, monitor.generation);
  if (!monitor.isServing(health.node, health.epoch)) return 'not-proven'; // a deposed node's late word
  facts.record(backend, health.node, health.epoch, health.dedup === true);
  return facts.holds(backend, health.node, health.epoch) ? 'proven' : 'not-proven';
}
