/**
 * The client/policy pipeline's instruments (docs/observability.md, "Client and policy"). Names
 * follow the OpenTelemetry semantic conventions where one exists (`rpc.client.call.duration`,
 * seconds); hotcold's own are prefixed `hotcold.client.`.
 */
import type { Counter, Histogram, Meter, ObservableGauge, UpDownCounter } from '@opentelemetry/api';

/** Bucket boundaries in seconds for call durations (the semantic conventions' advice for RPC). */
const CALL_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Bucket boundaries in seconds for outages: a failover takes seconds, a lost site minutes. */
const OUTAGE_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30, 60, 120, 300, 600];

/** Instrument names, as docs/observability.md lists them. */
export const CLIENT_METRICS = {
  calls: 'hotcold.client.calls',
  attempts: 'hotcold.client.attempts',
  retries: 'hotcold.client.retries',
  budgetRefusals: 'hotcold.client.budget.refusals',
  breakerState: 'hotcold.client.breaker.state',
  breakerTransitions: 'hotcold.client.breaker.transitions',
  heldCalls: 'hotcold.client.held_calls',
  outageDuration: 'hotcold.client.outage.duration',
  callDuration: 'rpc.client.call.duration',
} as const;

/** The instruments one pipeline records to (the SDK shares them between pipelines by name). */
export interface ClientInstruments {
  calls: Counter;
  attempts: Counter;
  retries: Counter;
  budgetRefusals: Counter;
  breakerState: ObservableGauge;
  breakerTransitions: Counter;
  heldCalls: UpDownCounter;
  outageDuration: Histogram;
  callDuration: Histogram;
}

export function clientInstruments(meter: Meter): ClientInstruments {
  return {
    calls: meter.createCounter(CLIENT_METRICS.calls, { unit: '{call}', description: 'Logical calls ended, by outcome and whether they may have executed.' }),
    attempts: meter.createCounter(CLIENT_METRICS.attempts, { unit: '{attempt}', description: 'Attempts ended, by outcome and whether they may have executed.' }),
    retries: meter.createCounter(CLIENT_METRICS.retries, { unit: '{retry}', description: 'Retries decided, by reason.' }),
    budgetRefusals: meter.createCounter(CLIENT_METRICS.budgetRefusals, { unit: '{call}', description: 'Retries the retry budget refused.' }),
    breakerState: meter.createObservableGauge(CLIENT_METRICS.breakerState, {
      unit: '1',
      description: 'Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.',
    }),
    breakerTransitions: meter.createCounter(CLIENT_METRICS.breakerTransitions, { unit: '{transition}', description: 'Circuit breaker state changes, by new state and cause.' }),
    heldCalls: meter.createUpDownCounter(CLIENT_METRICS.heldCalls, { unit: '{call}', description: 'Calls held while reconnecting.' }),
    outageDuration: meter.createHistogram(CLIENT_METRICS.outageDuration, {
      unit: 's',
      description: 'Duration of outages (no service) until service came back or the pipeline gave up.',
      advice: { explicitBucketBoundaries: OUTAGE_BUCKETS_S },
    }),
    callDuration: meter.createHistogram(CLIENT_METRICS.callDuration, {
      unit: 's',
      description: 'Duration of logical calls, every attempt, wait and backoff included.',
      advice: { explicitBucketBoundaries: CALL_BUCKETS_S },
    }),
  };
}
