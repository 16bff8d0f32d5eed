/**
 * The pipeline observer that records OpenTelemetry metrics and spans (issue 10 §1): made only
 * when a real meter or tracer provider is registered or given ({@link activeTelemetry}), so a
 * pipeline nobody observes carries no observer at all.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type Tracer } from '@opentelemetry/api';
import { ConfigurationError, isRPCException, type RPCException } from '../errors.js';
import { monotonicNow } from '../shared/clock.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import {
  ATTR_ATTEMPT,
  ATTR_ATTEMPTS,
  ATTR_BACKEND,
  ATTR_BREAKER_CAUSE,
  ATTR_BREAKER_STATE,
  ATTR_ERROR_TYPE,
  ATTR_MAY_HAVE_EXECUTED,
  ATTR_OUTAGE_OUTCOME,
  ATTR_OUTCOME,
  ATTR_RETRY_DELAY_MS,
  ATTR_RETRY_REASON,
  ATTR_RPC_METHOD,
  SUCCESS,
  backendAttribute,
} from './attributes.js';
import { clientInstruments, type ClientInstruments } from './client-instruments.js';
import { activeTelemetry } from './enabled.js';
import type { CallObserver, PipelineObserver } from './hooks.js';

/** The span event recorded per attempt. */
export const ATTEMPT_EVENT = 'hotcold.attempt';
/** The span event recorded when the retry budget refuses a retry. */
export const BUDGET_REFUSED_EVENT = 'hotcold.budget_refused';

const BREAKER_VALUE = { closed: 0, 'half-open': 1, open: 2 } as const;

/** What the pipeline tells its observer when it is made. */
export interface ObservedPipeline {
  /** The backends' labels (no userinfo): each starts with a closed breaker. */
  labels: readonly string[];
  /** Removes the adapter's literal secrets from a text (a label, before it becomes an attribute). */
  scrub: (text: string) => string;
}

/**
 * The observer for one pipeline, or `undefined` when no real provider is registered or given
 * (then the pipeline pays nothing for telemetry).
 */
export function observePipeline(options: TelemetryOptions | undefined, pipeline: ObservedPipeline): PipelineObserver | undefined {
  const { meter, tracer } = activeTelemetry(options);
  if (meter === undefined && tracer === undefined) return undefined;
  return new OtelPipelineObserver(meter === undefined ? undefined : clientInstruments(meter), tracer, pipeline);
}

class OtelPipelineObserver implements PipelineObserver {
  /** Backend label → attribute value (computed once per label). */
  private readonly backends = new Map<string, string>();
  /** Backend attribute → breaker state, for the observable gauge. */
  private readonly breakers = new Map<string, number>();
  private readonly observeBreakers: ((result: { observe(value: number, attributes: Attributes): void }) => void) | undefined;

  constructor(
    readonly instruments: ClientInstruments | undefined,
    readonly tracer: Tracer | undefined,
    private readonly pipeline: ObservedPipeline,
  ) {
    for (const label of pipeline.labels) this.breakers.set(this.backend(label), BREAKER_VALUE.closed);
    if (instruments !== undefined) {
      this.observeBreakers = (result): void => {
        for (const [backend, value] of this.breakers) result.observe(value, { [ATTR_BACKEND]: backend });
      };
      instruments.breakerState.addCallback(this.observeBreakers);
    }
  }

  /** The attribute value of a backend label (cached: labels are few). */
  backend(label: string): string {
    let value = this.backends.get(label);
    if (value === undefined) {
      value = backendAttribute(this.pipeline.scrub(label));
      if (this.backends.size < 1000) this.backends.set(label, value);
    }
    return value;
  }

  call<R>(name: string, start: (call: CallObserver) => Promise<R>): Promise<R> {
    const method = typeof name === 'string' ? name : '(invalid)';
    const parent = context.active();
    const span = this.tracer?.startSpan(method, { kind: SpanKind.CLIENT, attributes: { [ATTR_RPC_METHOD]: method } }, parent);
    const call = new ObservedCall(this, method, span);
    const pending = span === undefined ? start(call) : context.with(trace.setSpan(parent, span), start, undefined, call);
    return pending.then(
      (value) => {
        call.ended(undefined);
        return value;
      },
      (error: unknown) => {
        call.ended(error);
        throw error;
      },
    );
  }

  breakerChanged(backend: string, state: 'closed' | 'open' | 'half-open', cause: string): void {
    const attribute = this.backend(backend);
    if (this.breakers.has(attribute) || this.breakers.size < 1000) this.breakers.set(attribute, BREAKER_VALUE[state]);
    this.instruments?.breakerTransitions.add(1, { [ATTR_BACKEND]: attribute, [ATTR_BREAKER_STATE]: state, [ATTR_BREAKER_CAUSE]: cause });
  }

  heldChanged(delta: 1 | -1): void {
    this.instruments?.heldCalls.add(delta);
  }

  outageEnded(outageMs: number, outcome: 'recovered' | 'gave-up'): void {
    this.instruments?.outageDuration.record(outageMs / 1000, { [ATTR_OUTAGE_OUTCOME]: outcome });
  }

  close(): void {
    if (this.observeBreakers !== undefined) this.instruments?.breakerState.removeCallback(this.observeBreakers);
  }
}

/** One observed logical call: its span, its attempts and its clock. */
class ObservedCall implements CallObserver {
  private readonly startedAt = monotonicNow();
  private attempts = 0;
  private backend: string | undefined;
  /** The failed attempt whose span event waits for the retry decision (to carry its delay). */
  private failedAttempt: { attempt: number; failure: RPCException; backend: string | undefined } | undefined;

  constructor(
    private readonly observer: OtelPipelineObserver,
    private readonly method: string,
    private readonly span: Span | undefined,
  ) {}

  attemptStarted(attempt: number, backend: string): void {
    this.flush(undefined, undefined);
    this.attempts = attempt;
    this.backend = this.observer.backend(backend);
  }

  attemptFailed(attempt: number, failure: RPCException): void {
    this.observer.instruments?.attempts.add(1, {
      [ATTR_RPC_METHOD]: this.method,
      [ATTR_BACKEND]: this.backend,
      [ATTR_OUTCOME]: failure.kind,
      [ATTR_MAY_HAVE_EXECUTED]: failure.mayHaveExecuted,
    });
    this.flush(undefined, undefined);
    this.failedAttempt = { attempt, failure, backend: this.backend };
  }

  retrying(_attempt: number, delayMs: number, reason: string): void {
    this.observer.instruments?.retries.add(1, { [ATTR_RPC_METHOD]: this.method, [ATTR_RETRY_REASON]: reason });
    this.flush(delayMs, reason);
  }

  budgetRefused(): void {
    this.observer.instruments?.budgetRefusals.add(1, { [ATTR_RPC_METHOD]: this.method });
    this.flush(undefined, undefined);
    this.span?.addEvent(BUDGET_REFUSED_EVENT);
  }

  /** The call settled: `error` undefined on success. */
  ended(error: unknown): void {
    const seconds = (monotonicNow() - this.startedAt) / 1000;
    const instruments = this.observer.instruments;
    // Not an RPCException: bad per-call options (ConfigurationError) or a foreign error.
    const outcome = error === undefined ? SUCCESS : isRPCException(error) ? error.kind : error instanceof ConfigurationError ? 'configuration' : 'unclassified';
    // A successful call executed; a failure says whether it may have.
    const mayHaveExecuted = error === undefined || (isRPCException(error) && error.mayHaveExecuted);
    this.flush(undefined, undefined);
    if (error === undefined && this.attempts > 0) {
      instruments?.attempts.add(1, { [ATTR_RPC_METHOD]: this.method, [ATTR_BACKEND]: this.backend, [ATTR_OUTCOME]: SUCCESS, [ATTR_MAY_HAVE_EXECUTED]: true });
      this.span?.addEvent(ATTEMPT_EVENT, { [ATTR_ATTEMPT]: this.attempts, [ATTR_OUTCOME]: SUCCESS, [ATTR_BACKEND]: this.backend });
    }
    const attributes: Attributes = { [ATTR_RPC_METHOD]: this.method, [ATTR_OUTCOME]: outcome, [ATTR_MAY_HAVE_EXECUTED]: mayHaveExecuted };
    instruments?.calls.add(1, attributes);
    // A new object: the SDK keeps the one it was given (a change to it would relabel the calls series).
    instruments?.callDuration.record(seconds, error === undefined ? attributes : { ...attributes, [ATTR_ERROR_TYPE]: outcome });
    const span = this.span;
    if (span === undefined) return;
    span.setAttributes({ [ATTR_OUTCOME]: outcome, [ATTR_MAY_HAVE_EXECUTED]: mayHaveExecuted, [ATTR_ATTEMPTS]: this.attempts });
    if (error !== undefined) {
      span.setAttribute(ATTR_ERROR_TYPE, outcome);
      // The kind, not the message: a message may quote what a server sent.
      span.setStatus({ code: SpanStatusCode.ERROR, message: outcome });
    }
    span.end();
  }

  /** Records the pending failed attempt's span event, with the delay before the next one if a retry follows. */
  private flush(delayMs: number | undefined, reason: string | undefined): void {
    const failed = this.failedAttempt;
    if (failed === undefined) return;
    this.failedAttempt = undefined;
    const attributes: Attributes = {
      [ATTR_ATTEMPT]: failed.attempt,
      [ATTR_OUTCOME]: failed.failure.kind,
      [ATTR_MAY_HAVE_EXECUTED]: failed.failure.mayHaveExecuted,
      [ATTR_BACKEND]: failed.backend,
    };
    if (delayMs !== undefined) attributes[ATTR_RETRY_DELAY_MS] = Math.round(delayMs);
    if (reason !== undefined) attributes[ATTR_RETRY_REASON] = reason;
    this.span?.addEvent(ATTEMPT_EVENT, attributes);
  }
}
