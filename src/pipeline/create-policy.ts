/**
 * `createPolicy(options)`: the protocol-neutral pipeline as a {@link Policy} that wraps any
 * function (DESIGN §4, "Wrapping any call").
 */
import { ConfigurationError } from '../errors.js';
import type { MonitorProbeResult } from '../connection/monitor.js';
import type { ConnectionState, FailoverEvent, PolicyEvent, ReconnectedEvent } from '../connection/types.js';
import { boundedRun } from '../shared/bounded-run.js';
import type { Observable } from 'rxjs';
import { defaultClassify } from './classify.js';
import { resolvePolicyOptions } from './options.js';
import { Pipeline, type Attempt } from './pipeline.js';
import type { AnswerFacts, AttemptContext, ExecuteOptions, Policy, PolicyOptions, ProbeContext, ProbeResult } from './types.js';

/**
 * Creates a resilience policy for calls of any protocol: every rule of DESIGN §2–§3 (retry by
 * `mayHaveExecuted`, retry budget, a circuit breaker per backend, per-attempt timeout and
 * whole-call deadline, holding calls while reconnecting, failover detection) around a function
 * you pass to {@link Policy.execute}. Options and their defaults: docs/policy.md.
 *
 * @throws {ConfigurationError} naming the first invalid option.
 * @example
 * ```ts
 * import { createPolicy } from 'hotcold';
 *
 * const policy = createPolicy({ timeoutMs: 2000, methods: { getUser: { idempotent: true } } });
 * const user = await policy.execute(
 *   ({ signal, idempotencyKey }) => fetch(`https://api.example/users/7`, { signal, headers: { 'Idempotency-Key': idempotencyKey } }),
 *   { name: 'getUser' },
 * );
 * await policy.close();
 * ```
 */
export function createPolicy(options: PolicyOptions = {}): Policy {
  return new ExecutionPolicy(options, undefined, 'race');
}

/**
 * A policy for an adapter whose operation names come from request data: `telemetryName` maps a
 * name to the one telemetry records (see PipelineHooks). Internal: not exported by the package.
 */
export function createAdapterPolicy(options: PolicyOptions, telemetryName: (name: string) => string): Policy {
  return new ExecutionPolicy(options, telemetryName, 'race');
}

/**
 * A policy whose adapter times and ends its attempts itself: the pipeline races none of them
 * (`attemptTimeout: 'adapter'`), so an attempt costs no timer entry, promise or closures of the
 * pipeline's. Internal (hotcold/grpc's own policy): not exported by the package.
 */
export interface SelfTimedPolicy {
  readonly policy: Policy;
  /**
   * Aborts when the policy closes. Each attempt's `signal` is this signal (a call run here takes
   * no signal of its own): the adapter must end every attempt it has in flight when it aborts,
   * start none once it has, and end each attempt at its `timeoutMs`.
   */
  readonly closing: AbortSignal;
  /**
   * `context.report(facts)` without a closure per attempt; the fields are copied, so the adapter
   * may pass the same object every time. `context` is one this policy passed to `fn`.
   */
  readonly report: (context: AttemptContext, facts: AnswerFacts) => void;
  /** {@link Policy.execute} for `fn(context, arg)`: no closure per call. */
  readonly run: <A, R>(fn: (context: AttemptContext, arg: A) => Promise<R> | R, arg: A, name: string, options: SelfTimedRunOptions | undefined) => Promise<R>;
  /**
   * The caller cancelled the call run with `arg` (which must be one object per call): if it waits
   * (held while reconnecting, in a backoff, for the breaker) that wait ends now with `reason`, so
   * it stops counting against `maxPending`. An attempt in flight is the adapter's to end, and the
   * adapter refuses the next one (this policy takes no signal per call: see `closing`).
   */
  readonly cancel: (arg: unknown, reason: unknown) => void;
}

/** The per-call options of {@link SelfTimedPolicy.run} (those of {@link ExecuteOptions} it takes). */
export interface SelfTimedRunOptions {
  idempotencyKey?: string | undefined;
  deadlineMs?: number | undefined;
  outerDeadlineMs?: number | undefined;
}

/** @see SelfTimedPolicy */
export function createSelfTimedPolicy(options: PolicyOptions): SelfTimedPolicy {
  const policy = new ExecutionPolicy(options, undefined, 'adapter');
  const pipeline = policy.pipeline;
  return {
    policy,
    closing: pipeline.closingSignal,
    run: (fn, arg, name, runOptions) => pipeline.run(fn, arg, name, runOptions),
    cancel: (arg, reason) => pipeline.cancelWaits(arg, reason),
    report: reportTo,
  };
}

/** The contexts a pipeline passes to its attempt functions are its Attempts. */
function reportTo(context: AttemptContext, facts: AnswerFacts): void {
  (context as Attempt).addFacts(facts);
}

/** Runs the user's function as one attempt (a module function: no closure per call). */
function runUserFn<T>(attempt: Attempt, fn: (context: AttemptContext) => Promise<T> | T): Promise<T> | T {
  return fn(attempt);
}

class ExecutionPolicy implements Policy {
  readonly state$: Observable<ConnectionState>;
  readonly events$: Observable<PolicyEvent>;
  readonly failover$: Observable<FailoverEvent>;
  readonly reconnected$: Observable<ReconnectedEvent>;
  readonly pipeline: Pipeline;

  constructor(options: PolicyOptions, telemetryName: ((name: string) => string) | undefined, attemptTimeout: 'race' | 'adapter') {
    const resolved = resolvePolicyOptions(options);
    const userProbe = resolved.probe;
    const probe =
      userProbe === undefined
        ? undefined
        : (backend: string, context: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<MonitorProbeResult> =>
            runProbe(userProbe, backend, context.timeoutMs, context.signal);
    this.pipeline = new Pipeline(resolved, {
      classify: resolved.classify ?? defaultClassify,
      probe,
      proveDedup: probe,
      telemetryName,
      attemptTimeout,
    });
    this.state$ = this.pipeline.state$;
    this.events$ = this.pipeline.events$;
    this.failover$ = this.pipeline.failover$;
    this.reconnected$ = this.pipeline.reconnected$;
  }

  get state(): ConnectionState {
    return this.pipeline.state;
  }

  get closed(): boolean {
    return this.pipeline.closed;
  }

  execute<T>(fn: (context: AttemptContext) => Promise<T> | T, options: ExecuteOptions): Promise<T> {
    if (typeof fn !== 'function') return Promise.reject(new ConfigurationError('fn', 'must be a function'));
    if (typeof options !== 'object' || options === null) return Promise.reject(new ConfigurationError('options', 'must be an object with a name'));
    return this.pipeline.run(runUserFn<T>, fn, options.name, options);
  }

  close(): Promise<void> {
    return this.pipeline.close();
  }
}

/**
 * One probe, bounded by its timeout even if the user's probe ignores its signal (a probe that
 * hangs must not stall recovery). Probes run on the failure path only, so a timer each is fine.
 */
function runProbe(
  probe: (context: ProbeContext) => Promise<boolean | ProbeResult>,
  backend: string,
  timeoutMs: number,
  outer: AbortSignal | undefined,
): Promise<MonitorProbeResult> {
  return boundedRun(
    (signal) => probe({ backend, signal, timeoutMs }),
    timeoutMs,
    outer,
    () => new DOMException(`probe timed out after ${timeoutMs} ms`, 'TimeoutError'),
  ).then(normaliseProbe);
}

function normaliseProbe(result: unknown): MonitorProbeResult {
  if (typeof result === 'boolean') return { ok: result };
  if (typeof result !== 'object' || result === null) return { ok: false };
  const r = result as ProbeResult;
  return {
    ok: r.ok === true,
    node: typeof r.node === 'string' ? r.node : undefined,
    epoch: typeof r.epoch === 'number' && Number.isFinite(r.epoch) ? r.epoch : undefined,
    dedup: r.dedup === true,
    retryAfterMs: typeof r.retryAfterMs === 'number' && r.retryAfterMs >= 0 ? r.retryAfterMs : undefined,
    status: typeof r.status === 'number' ? r.status : undefined,
    backPressure: r.backPressure === true,
  };
}
