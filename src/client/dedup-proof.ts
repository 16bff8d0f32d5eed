/**
 * Before a call that MAY have run is sent again on the strength of `X-Hotcold-Dedup` (a
 * non-idempotent method, `serverDeduplicates` not configured), the client needs proof that the
 * node about to receive it deduplicates in its current term (issue 8 §1). What it remembers is
 * only a statement by one node in one term (see connection/dedup-facts.ts); behind a balancer the
 * serving node may have changed without the client seeing it — the very failure being retried
 * (a 502, a reset, a timeout) names no node. So:
 *
 *   - always ask the backend's `/health` who serves now: it must name the node and term (and a
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
  const { monitor, facts } = context;
  const backend = monitor.backend;
  // Always ask, even when the failure itself came from a node that dedups in its term: behind a
  // balancer the node receiving the repeat may already be another one (the failure says who
  // answered then, not who answers next). The probe narrows that window to one round trip; it
  // cannot close it (docs/client.md, "Learned facts").
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
  // Proof names who: an answer without the node and its term proves nothing about the node
  // that will receive the repeat (a sidecar or a proxy may answer /health for anyone).
  if (health.node === undefined || health.epoch === undefined) return 'not-proven';
  monitor.reportAnswer(health.node, health.epoch, monitor.generation);
  if (!monitor.isServing(health.node, health.epoch)) return 'not-proven'; // a deposed node's late word
  facts.record(backend, health.node, health.epoch, health.dedup === true);
  return facts.holds(backend, health.node, health.epoch) ? 'proven' : 'not-proven';
}
