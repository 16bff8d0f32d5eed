/**
 * The observer hooks a pipeline calls (issue 10 §1): protocol-neutral, and absent when nobody
 * collects telemetry, so the success path pays one `undefined` check. The pipeline knows only
 * these shapes; what they record (OpenTelemetry metrics and spans) lives in this folder.
 *
 * Hook points in a pipeline:
 * - {@link PipelineObserver.call} wraps one logical call (its start, end and trace context);
 * - {@link CallObserver.attemptStarted} / {@link CallObserver.attemptFailed} per attempt (a
 *   success is the last attempt of a call that succeeded);
 * - {@link CallObserver.retrying} and {@link CallObserver.budgetRefused} from the retry loop;
 * - {@link PipelineObserver.breakerChanged}, {@link PipelineObserver.heldChanged},
 *   {@link PipelineObserver.outageEnded} from the breakers and the connection monitor;
 * - {@link PipelineObserver.close} when the pipeline closes.
 */
import type { RPCException } from '../errors.js';

/** The hooks of one logical call. */
export interface CallObserver {
  /** Attempt `attempt` (1-based) goes out to `backend` (a label without credentials). */
  attemptStarted(attempt: number, backend: string): void;
  /** That attempt failed with `failure` (the error the retry loop decides on). */
  attemptFailed(attempt: number, failure: RPCException): void;
  /** A retry was decided: `attempt` is the one about to be made, after `delayMs`, for `reason`. */
  retrying(attempt: number, delayMs: number, reason: string): void;
  /** The retry budget refused a retry (the call ends with RetriesExhausted('budget')). */
  budgetRefused(): void;
}

/** The hooks of one pipeline. */
export interface PipelineObserver {
  /**
   * Runs `start` as one observed logical call named `name`: inside the call's trace context (the
   * attempts' transports propagate it), and records the call's end when the promise settles.
   */
  call<R>(name: string, start: (call: CallObserver) => Promise<R>): Promise<R>;
  /** A backend's circuit breaker moved to `state`, because of `cause`. */
  breakerChanged(backend: string, state: 'closed' | 'open' | 'half-open', cause: string): void;
  /** A call entered (+1) or left (−1) the reconnect hold. */
  heldChanged(delta: 1 | -1): void;
  /** An outage ended after `outageMs` ms: service came back (`recovered`) or the pipeline gave up. */
  outageEnded(outageMs: number, outcome: 'recovered' | 'gave-up'): void;
  /** The pipeline closed: stop observing (observable callbacks are removed). */
  close(): void;
}
