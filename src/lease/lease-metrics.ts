import type { Attributes, BatchObservableCallback, Meter } from '@opentelemetry/api';
import type { Subscription } from 'rxjs';
import { observeUntilFinished } from '../shared/final-observation.js';
import type { Lease, LeaseStatus } from './types.js';

/**
 * The lease's OpenTelemetry instruments (docs/observability.md "Lease"), fed from the engine's
 * public surface only (`state`, `current`, `events$`), so the node can instrument a lease it was
 * handed onto its own Prometheus meter exactly as `createLease` instruments it onto the global one.
 *
 * Durations are in seconds (OpenTelemetry's convention for durations). Attributes name the lease
 * and the holder, never the store: its URL may carry a password.
 */

/** Every status, so that the state gauge reports 0 for the ones the engine is not in (a Prometheus state set). */
const STATUSES: readonly LeaseStatus[] = ['standby', 'acquiring', 'active', 'lost', 'released', 'closed'];

/** Renewals take a round trip to the database: milliseconds to seconds. */
const RENEWAL_BUCKETS_S = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Attribute keys of the lease instruments. */
export const LEASE_ATTRIBUTES = {
  name: 'hotcold.lease.name',
  holder: 'hotcold.lease.holder',
  node: 'hotcold.node.name',
  state: 'hotcold.lease.state',
  lostReason: 'hotcold.lease.lost.reason',
} as const;

/**
 * Records `lease`'s instruments on `meter` until the lease closes (or the returned function is
 * called, whichever comes first; the gauges are then observed once more and dropped). Observable
 * gauges are read at collection time.
 */
export function instrumentLease(lease: Lease, meter: Meter): () => void {
  const base: Attributes = {
    [LEASE_ATTRIBUTES.name]: lease.name,
    [LEASE_ATTRIBUTES.holder]: lease.holderId,
    // A lease-like object of the application's own may carry no options (the node accepts one).
    [LEASE_ATTRIBUTES.node]: (lease.options as Partial<Lease['options']> | undefined)?.machineName ?? lease.holderId.split('#')[0] ?? '',
  };
  const state = meter.createObservableGauge('hotcold.lease.state', {
    description: 'Where the lease engine is: 1 for its current state (attribute hotcold.lease.state), 0 for the others',
  });
  const token = meter.createObservableGauge('hotcold.lease.token', {
    description: 'Fencing token: ours while active, the holder\'s as last seen otherwise',
    unit: '{token}',
  });
  const remaining = meter.createObservableGauge('hotcold.lease.deadline.remaining', {
    description: 'Time left before the holder must consider itself fenced (self-fencing deadline); 0 when not holding',
    unit: 's',
  });
  const renewal = meter.createHistogram('hotcold.lease.renewal.duration', {
    description: 'Round trip of a successful lease renewal',
    unit: 's',
    advice: { explicitBucketBoundaries: RENEWAL_BUCKETS_S },
  });
  const renewalFailures = meter.createCounter('hotcold.lease.renewal.failures', {
    description: 'Renewals that failed (the engine retries while the self-fencing deadline allows)',
    unit: '{renewal}',
  });
  const takeovers = meter.createCounter('hotcold.lease.takeovers', {
    description: 'Times this engine took the lease (each with a new fencing token)',
    unit: '{takeover}',
  });
  const lost = meter.createCounter('hotcold.lease.lost', {
    description: 'Times this engine lost the lease (superseded or self-fenced)',
    unit: '{loss}',
  });

  // Counters start at 0 rather than appearing at their first event: an alert on
  // `increase(hotcold_lease_lost_total[5m]) > 0` must see the series before the first loss.
  renewalFailures.add(0, base);
  takeovers.add(0, base);
  for (const cause of ['superseded', 'self-fenced'] as const) lost.add(0, { ...base, [LEASE_ATTRIBUTES.lostReason]: cause });

  const observe: BatchObservableCallback = (result) => {
    const current = lease.state;
    for (const status of STATUSES) result.observe(state, status === current.status ? 1 : 0, { ...base, [LEASE_ATTRIBUTES.state]: status });
    if (current.token !== undefined) result.observe(token, current.token, base);
    // 0 when not holding, rather than no point: the SDK would go on reporting the last value.
    result.observe(remaining, (lease.current?.remainingMs() ?? 0) / 1000, base);
  };
  const finish = observeUntilFinished(meter, observe, [state, token, remaining]);

  let disposed = false;
  let subscription: Subscription | undefined;
  const dispose = (): void => {
    if (disposed) return;
    disposed = true;
    subscription?.unsubscribe();
    finish();
  };
  subscription = lease.events$.subscribe({
    next: (event) => {
      switch (event.type) {
        case 'renewed':
          renewal.record(event.latencyMs / 1000, base);
          return;
        case 'renew-failed':
          renewalFailures.add(1, base);
          return;
        case 'acquired':
          takeovers.add(1, base);
          return;
        case 'lost':
          lost.add(1, { ...base, [LEASE_ATTRIBUTES.lostReason]: event.cause });
          return;
        default:
          return;
      }
    },
    // The engine closed: report `closed` once more, then stop observing it.
    complete: () => dispose(),
  });
  // Completed during subscribe (the lease was already closed): nothing left to unsubscribe later.
  if (disposed) subscription.unsubscribe();
  return dispose;
}
