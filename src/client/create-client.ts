/**
 * `createClient(options)`: the call pipeline of DESIGN §3, composed from the policy module
 * (retry loop, rules, budget, backoff, breaker, deadline), the transport and the connection
 * state machine.
 *
 *   call → method policy → one Idempotency-Key → attempt 1 directly (no retry machinery on the
 *   success path) → on failure `retryAfterFailure` (rules, budget, backoff/Retry-After, deadline)
 *   → each attempt: wait while reconnecting → breaker of the backend → transport with the
 *   per-attempt timeout cut to what is left of the deadline → one RPCException out.
 */
import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import { map, Observable, Subject } from 'rxjs';
import {
  CallAbortedException,
  ClientClosedException,
  ConfigurationError,
  ConnectionFailureException,
  DeadlineExceededException,
  PendingLimitException,
  RemoteCallException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  isRPCException,
  ProtocolException,
  type RPCException,
  bindSecretScope,
} from '../errors.js';
import { ConnectionMonitor, type WaitOutcome } from '../connection/monitor.js';
import { DedupFacts } from '../connection/dedup-facts.js';
import { BackendPacing } from '../connection/pacing.js';
import { CircuitBreakers, resolveBreakerOptions, type BreakerPermit, type BreakerStateEvent } from '../policy/breaker.js';
import { Deadline } from '../policy/deadline.js';
import { resolveRetryOptions, type ResolvedRetryOptions } from '../policy/backoff.js';
import { createRetryBudget, resolveBudgetOptions, type RetryBudget } from '../policy/budget.js';
import { decideRetry, type RetryVerdict } from '../policy/retry-rules.js';
import { retryAfterFailure, type RetryEvent } from '../policy/retry.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH } from '../wire.js';
import { monotonicNow } from '../shared/clock.js';
import { redactDeep, redactText, SecretScope } from '../shared/redact.js';
import { requireMs } from '../shared/validate.js';
import { createAxiosTransport, type AxiosTransportOptions } from '../transport/index.js';
import type { Transport, TransportResponse } from '../transport/types.js';
import { createFeed, type FeedParams, type FeedSubscribeOptions } from './feed.js';
import { resolveClientOptions, type MethodSettings, type ResolvedClientOptions } from './options.js';
import { createProxy } from './proxy.js';
import { proveDeduplication } from './dedup-proof.js';
import type {
  CallOptions,
  ClientEvent,
  ClientOptions,
  ConnectionState,
  ErrorSummary,
  FailoverEvent,
  FeedItem,
  HotcoldClient,
  ProxiedApi,
  ReconnectedEvent,
} from './types.js';

/**
 * The default Idempotency-Key generator: a random UUID drawn once per client, then a counter —
 * `<uuid>.<n in base 36>`. Unique per logical call across processes (122 random bits per client)
 * and ~20 ns instead of ~150 ns for `randomUUID()` per call, which was most of the success
 * path's cost. Keys need to be unique, not secret: a node binds each key to the caller's
 * identity. Pass `idempotencyKey: () => randomUUID()` for an independent UUID per call.
 */
function keyGenerator(): () => string {
  const prefix = `${randomUUID()}.`;
  let counter = 0;
  return () => prefix + (++counter).toString(36);
}

/** Header names whose values are credentials: scrubbed from every message like the auth option. */
/** Timers may fire a millisecond early or late; within this, a spent deadline is spent. */
const DEADLINE_TIMER_SLACK_MS = 2;

const SENSITIVE_HEADER = /auth|token|key|secret|cookie|session|passw/i;

/** A method's policy with its retry section resolved (computed once per method name). */
interface MethodPlan {
  name: string;
  idempotent: boolean;
  retry: ResolvedRetryOptions;
  timeoutMs: number;
  deadlineMs: number;
  retryOnCodes: readonly number[];
}

/** The state of one logical call, shared by its attempts. */
interface CallContext {
  plan: MethodPlan;
  params: unknown;
  key: string;
  deadline: Deadline;
  timeoutMs: number;
  signal: AbortSignal;
  /** Attempts started so far. */
  attempts: number;
  /**
   * An attempt that may have run is being repeated on the strength of learned dedup: every later
   * attempt first needs proof that the node receiving it deduplicates in its term (dedup-proof.ts).
   */
  needsDedup?: RPCException | undefined;
  /** The latest failure after `needsDedup` was set (the one the next attempt repeats). */
  lastFailure?: RPCException | undefined;
  /** The proof was refused: this error ends the call. */
  refused?: RPCException | undefined;
  /** The connection's generation when the call started: a give-up after it ends the call. */
  generation: number;
  /**
   * What the call's waits (hold, breaker, backoff) listen to: `signal`, and once the call has
   * failed also the connection's give-up (a request in flight is never cut by it).
   */
  waits: AbortSignal;
}

export function createClient(options: ClientOptions): HotcoldClient {
  return new Client(resolveClientOptions(options));
}

class Client implements HotcoldClient {
  readonly state$: Observable<ConnectionState>;
  readonly events$: Observable<ClientEvent>;
  readonly failover$: Observable<FailoverEvent>;
  readonly reconnected$: Observable<ReconnectedEvent>;

  private readonly events = new Subject<ClientEvent>();
  private readonly failovers = new Subject<FailoverEvent>();
  private readonly reconnections = new Subject<ReconnectedEvent>();
  private readonly transport: Transport;
  private readonly monitor: ConnectionMonitor;
  private readonly budget: RetryBudget;
  private readonly breakers: CircuitBreakers;
  private readonly retry: ResolvedRetryOptions;
  private readonly plans = new Map<string, MethodPlan>();
  private readonly defaultPlanFor: (name: string) => MethodPlan;
  private readonly newKey: () => string;
  private readonly serverDeduplicates: boolean;
  /** Aborted by close(): every attempt and backoff sleep listens to it (or to a signal linked to it). */
  private readonly closing = new AbortController();
  /** This client's literal secrets (auth, sensitive headers, URL passwords); cleared on close. */
  private readonly secrets = new SecretScope();
  private closedFlag = false;
  private closePromise: Promise<void> | undefined;
  /** Which node, in which term, behind which backend, advertised `X-Hotcold-Dedup`. */
  private readonly dedupFacts = new DedupFacts();
  /** Per-backend "not before" times from 429 Retry-After (back-pressure). */
  private readonly pacing = new BackendPacing();
  private nextId = 0;
  /**
   * The clock reading of the call being started, lent to the budget so one call start reads the
   * monotonic clock once, not twice (it is a measurable share of the success path).
   */
  private startedAt: number | undefined;

  constructor(private readonly options: ResolvedClientOptions) {
    // Resolve every policy section now, so a bad option fails construction, not the first call.
    this.retry = resolveRetryOptions(options.retry, 'retry');
    this.budget = createRetryBudget(resolveBudgetOptions(options.budget, 'budget'), () => this.startedAt ?? monotonicNow());
    for (const [name, settings] of options.methods) this.plans.set(name, this.planFor(name, settings));
    const defaultPlan = (name: string): MethodPlan => ({
      name,
      idempotent: false,
      retry: this.retry,
      timeoutMs: options.timeoutMs,
      deadlineMs: options.deadlineMs,
      retryOnCodes: [],
    });
    this.defaultPlanFor = defaultPlan;
    this.serverDeduplicates = options.serverDeduplicates;
    this.newKey = options.idempotencyKey ?? keyGenerator();
    setMaxListeners(0, this.closing.signal);

    if (options.auth !== undefined) {
      if ('bearer' in options.auth) this.secrets.add(options.auth.bearer);
      else {
        this.secrets.add(options.auth.password);
        this.secrets.add(Buffer.from(`${options.auth.username}:${options.auth.password}`, 'utf8').toString('base64'));
      }
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (SENSITIVE_HEADER.test(name)) this.secrets.addHeaderValue(value);
    }
    for (const backend of options.backends) {
      const url = new URL(backend);
      if (url.password === '') continue;
      this.secrets.add(url.password);
      // axios sends URL userinfo as Basic credentials: that header value is a secret too.
      const basic = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.secrets.add(Buffer.from(basic, 'utf8').toString('base64'));
    }

    this.breakers = new CircuitBreakers(resolveBreakerOptions(options.breaker, 'breaker'), {
      onStateChange: (event) => this.emit(breakerEvent(event)),
    });

    this.transport = options.transport ?? createAxiosTransport(transportOptions(options), this.secrets);

    this.monitor = new ConnectionMonitor({
      backends: options.backends,
      transport: this.transport,
      minDelayMs: options.reconnect.minDelayMs,
      maxDelayMs: options.reconnect.maxDelayMs,
      probeTimeoutMs: options.reconnect.probeTimeoutMs,
      maxReconnectAttempts: options.maxReconnectAttempts,
      maxPending: options.maxPending,
      emit: (event) => this.emit(event),
      listening: () => this.events.observed,
      onFailover: (event) => this.failovers.next(this.scrub(event)),
      onReconnected: (event) => this.reconnections.next(this.scrub(event)),
      onIdentityChange: (backend, identity) => {
        this.breakers.observeIdentity(backend, identity.node, identity.epoch);
        // Learned facts belong to the node and term that stated them (issue 8 §1).
        this.dedupFacts.forget(backend);
        this.pacing.forget(backend);
      },
      pacing: {
        wait: (backend, signal) => this.pacing.wait(backend, signal),
        defer: (backend, delayMs) => this.pacing.defer(backend, delayMs, this.retry.maxRetryAfterMs),
      },
      // What a server sent (a node name, a message) reaches these callbacks and observables only
      // scrubbed of this client's secrets: a server may echo a credential anywhere.
      onDisconnect: options.onDisconnect && ((info) => options.onDisconnect?.(this.scrub(info))),
      onReconnect: options.onReconnect && ((info) => options.onReconnect?.(this.scrub(info))),
      onPermanentFailure: options.onPermanentFailure && ((info) => options.onPermanentFailure?.(this.scrub(info))),
    });

    this.state$ = this.secrets.empty ? this.monitor.state$.asObservable() : this.monitor.state$.pipe(map((state) => this.scrub(state)));
    this.events$ = this.events.asObservable();
    this.failover$ = this.failovers.asObservable();
    this.reconnected$ = this.reconnections.asObservable();
  }

  get state(): ConnectionState {
    return this.scrub(this.monitor.state$.value);
  }

  /** `value` deep-scrubbed of this client's literal secrets (as is, when it has none). */
  private scrub<T>(value: T): T {
    return this.secrets.empty ? value : (redactDeep(value, this.secrets) as T);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T> {
    const signal = options?.signal;
    const result =
      signal === undefined || signal.aborted
        ? this.run<T>(method, params, options, this.closing.signal)
        : this.runLinked<T>(method, params, options, signal);
    // Without literal secrets the patterns applied at construction are all there is to do, and
    // the success path pays nothing; with them, every error leaving the client is bound to them.
    return this.secrets.empty ? result : result.catch(this.bindSecrets);
  }

  private readonly bindSecrets = (error: unknown): never => {
    throw bindSecretScope(error, this.secrets);
  };

  /** A call with the caller's signal: linked to close() for its duration, then unlinked. */
  private async runLinked<T>(method: string, params: unknown, options: CallOptions | undefined, signal: AbortSignal): Promise<T> {
    const link = this.link(signal);
    try {
      return await this.run<T>(method, params, options, link.signal);
    } finally {
      link.dispose();
    }
  }

  private async run<T>(method: string, params: unknown, options: CallOptions | undefined, signal: AbortSignal): Promise<T> {
    if (this.closedFlag) throw new ClientClosedException('client is closed', { method });
    if (typeof method !== 'string' || method.length === 0) throw new ConfigurationError('method', 'must be a non-empty string');
    const plan = this.plans.get(method) ?? this.planForUnlisted(method);
    const context = this.startCall(plan, params, options, signal);
    this.startedAt = context.deadline.at - context.deadline.ms;
    this.budget.recordCall();
    this.startedAt = undefined;
    let first: unknown;
    const monitor = this.monitor;
    if (!monitor.holding && !context.signal.aborted && this.pacing.idle) {
      // Attempt 1 inline (no nested async frame, no clock read): this is the success path whose
      // cost the benchmark holds to <= 2 µs. Same steps as attempt(), minus the waits.
      const backend = monitor.backend;
      const generation = monitor.generation;
      let permit: BreakerPermit | undefined;
      try {
        permit = this.breakers.admit(backend, method);
      } catch (error) {
        first = error;
      }
      if (permit === undefined && this.breakers.whenOpen === 'wait') {
        // Open, or half-open with its trial taken: attempt() waits for the trial slot.
        try {
          return (await this.attempt(context, 1)) as T;
        } catch (error) {
          first = error;
        }
      } else if (permit !== undefined) {
        context.attempts = 1;
        if (this.events.observed) this.emit({ type: 'attempt', method, attempt: 1, backend: monitor.label });
        let response: TransportResponse | undefined;
        try {
          response = await this.transport.send({
            baseUrl: backend,
            method,
            params,
            id: ++this.nextId,
            idempotencyKey: context.key,
            attempt: 1,
            timeoutMs: context.timeoutMs < context.deadline.ms ? context.timeoutMs : context.deadline.ms,
            deadlineLeftMs: context.deadline.ms,
            signal: context.signal,
          });
        } catch (error) {
          permit.failure(error);
          // Attempt 1 went out when the call started (the clock read the success path already paid).
          const sentAt = context.deadline.at - context.deadline.ms;
          const limit = context.timeoutMs < context.deadline.ms ? context.timeoutMs : context.deadline.ms;
          first = this.attemptFailed(error, backend, generation, context, 1, context.timeoutMs >= context.deadline.ms, sentAt + limit);
        }
        if (response !== undefined) {
          permit.success();
          this.answered(backend, response, generation);
          return response.result as T;
        }
      }
    } else {
      try {
        return (await this.attempt(context, 1)) as T;
      } catch (error) {
        first = error;
      }
    }
    // A single-attempt method (retry: false) fails with its own error, not a wrapper around it.
    if (plan.retry.maxAttempts === 1 && !context.signal.aborted) {
      context.deadline.dispose();
      throw this.finalError(first, method);
    }
    // From here on a give-up of the connection ends the call wherever it waits.
    const waits = linkSignals(context.signal, monitor.giveUpSignal);
    context.waits = waits.signal;
    try {
      return (await retryAfterFailure(first, (n) => this.attempt(context, n), {
        retry: plan.retry,
        rules: (error: unknown): RetryVerdict => {
          // The proof was asked for and refused: final.
          if (error === context.refused) return { retry: false, reason: 'may-have-executed' };
          const verdict = decideRetry(error, {
            idempotent: plan.idempotent,
            retryOnCodes: plan.retryOnCodes,
            hasIdempotencyKey: true,
            // Provisional: a deployment seen deduplicating is asked for proof before the repeat
            // goes out (requireDedupProof); one never seen doing so is not asked.
            serverDeduplicates: this.serverDeduplicates || this.dedupFacts.wasAdvertised(this.monitor.backend),
            whenOpen: this.breakers.whenOpen,
          });
          // Sticky: once an attempt may have run, every later one needs the proof (dedup-proof.ts).
          if (verdict.retry && verdict.reason === 'deduplicated' && !this.serverDeduplicates) context.needsDedup = error as RPCException;
          else if (context.needsDedup !== undefined && isRPCException(error)) context.lastFailure = error;
          return verdict;
        },
        budget: this.budget,
        deadline: context.deadline,
        signal: context.waits,
        method,
        onRetry: (event) => this.emitRetry(method, event),
        onBudgetExhausted: () => this.emit({ type: 'budget-exhausted', method, attempt: context.attempts }),
        outage: {
          current: () => (monitor.holding ? monitor.generation : undefined),
          over: async (waits) => (await monitor.waitForService(context.deadline.at, waits)) === 'ready',
          confirmed: (generation) => monitor.outageConfirmed(generation),
        },
      })) as T;
    } catch (error) {
      throw this.finalError(error, method);
    } finally {
      waits.dispose();
      context.deadline.dispose();
    }
  }

  proxy<Api extends object>(): ProxiedApi<Api> {
    return createProxy<Api>((method, params, options) => this.call(method, params, options));
  }

  feed<T = unknown>(name: string, params?: FeedParams, options?: FeedSubscribeOptions): Observable<FeedItem<T>> {
    // createFeed checks its arguments now (a ConfigurationError is thrown here, not emitted) and
    // returns a cold Observable: nothing is polled before someone subscribes.
    return createFeed<T>(this, name, params, options);
  }

  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    this.closedFlag = true;
    this.closing.abort(new ClientClosedException('client closed'));
    await this.monitor.close();
    this.breakers.dispose();
    await this.transport.close();
    this.secrets.clear();
    this.events.complete();
    this.failovers.complete();
    this.reconnections.complete();
  }

  private startCall(plan: MethodPlan, params: unknown, options: CallOptions | undefined, signal: AbortSignal): CallContext {
    if (options === undefined) {
      return {
        plan,
        params,
        key: this.newKey(),
        deadline: new Deadline(plan.deadlineMs),
        timeoutMs: plan.timeoutMs,
        signal,
        attempts: 0,
        generation: this.monitor.generation,
        waits: signal,
      };
    }
    const key = options.idempotencyKey ?? this.newKey();
    if (typeof key !== 'string' || key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH || /[^\x21-\x7e]/.test(key)) {
      throw new ConfigurationError('idempotencyKey', `must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} visible ASCII characters`);
    }
    const deadlineMs = options.deadlineMs ?? plan.deadlineMs;
    const timeoutMs = options.timeoutMs ?? plan.timeoutMs;
    requireMs('deadlineMs', deadlineMs);
    requireMs('timeoutMs', timeoutMs);
    return {
      plan,
      params,
      key,
      deadline: new Deadline(deadlineMs),
      timeoutMs,
      // The caller's signal, linked to close() (or close()'s own signal when there is none).
      signal: options.signal?.aborted === true ? options.signal : signal,
      attempts: 0,
      generation: this.monitor.generation,
      waits: options.signal?.aborted === true ? options.signal : signal,
    };
  }

  /** One signal that aborts when either the caller's signal or close() does; dispose() unlinks. */
  private link(signal: AbortSignal): { signal: AbortSignal; dispose: () => void } {
    return linkSignals(signal, this.closing.signal);
  }

  /** Attempt `n` of a call: wait while reconnecting, then breaker, then transport. */
  private async attempt(context: CallContext, n: number): Promise<unknown> {
    context.attempts = n;
    const monitor = this.monitor;
    const method = context.plan.name;
    const breakers = this.breakers;
    let permit: BreakerPermit;
    let backend: string;
    let generation: number;
    let remaining: number;
    // Until a permit is taken while no outage is known: an outage that begins while the call
    // waits for the breaker sends it back to the hold instead of out into the outage.
    for (;;) {
      if (monitor.gaveUpSince(context.generation)) throw this.waitError('failed', context, n);
      if (monitor.holding) {
        const outcome = await monitor.waitForService(context.deadline.at, context.waits);
        if (outcome !== 'ready') throw this.waitError(outcome, context, n);
      }
      if (!this.pacing.idle) await this.waitForPacing(context, n);
      if (context.needsDedup !== undefined) await this.requireDedupProof(context, n);
      remaining = context.deadline.remaining();
      if (remaining <= 0) {
        throw new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed`, {
          method,
          attempts: n - 1,
        });
      }
      backend = monitor.backend;
      generation = monitor.generation;
      if (breakers.whenOpen === 'wait') {
        try {
          permit = await breakers.acquire(backend, { signal: context.waits, deadline: context.deadline, method });
        } catch (error) {
          // An abort while waiting for the breaker surfaces the signal's own reason: make it ours.
          if (isRPCException(error)) throw error;
          throw new CallAbortedException('call aborted while waiting for the circuit breaker', { method, attempts: n - 1, cause: error });
        }
        if (monitor.holding || monitor.gaveUpSince(context.generation)) {
          permit.release();
          continue;
        }
      } else {
        permit = breakers.admit(backend, method);
      }
      break;
    }
    remaining = context.deadline.remaining();
    if (this.events.observed) this.emit({ type: 'attempt', method, attempt: n, backend: monitor.label });
    let response: TransportResponse;
    const attemptTimeoutMs = Math.min(context.timeoutMs, remaining);
    const sentAt = monotonicNow();
    try {
      response = await this.transport.send({
        baseUrl: backend,
        method,
        params: context.params,
        id: ++this.nextId,
        idempotencyKey: context.key,
        attempt: n,
        timeoutMs: attemptTimeoutMs,
        deadlineLeftMs: remaining,
        signal: context.signal,
      });
    } catch (error) {
      permit.failure(error);
      throw this.attemptFailed(error, backend, generation, context, n, context.timeoutMs >= remaining, sentAt + attemptTimeoutMs);
    }
    permit.success();
    this.answered(backend, response, generation);
    return response.result;
  }

  /** A node answered: remember who it is, then whether it deduplicates (after: a failover forgets). */
  private answered(backend: string, response: TransportResponse, generation: number): void {
    const monitor = this.monitor;
    if (!monitor.isServing(response.node, response.epoch)) this.breakers.observeIdentity(backend, response.node, response.epoch);
    monitor.reportAnswer(response.node, response.epoch, generation);
    this.dedupFacts.record(backend, response.node, response.epoch, response.dedup);
  }

  /** A call that may have run is repeated only on proof that the receiving node deduplicates. */
  private async requireDedupProof(context: CallContext, n: number): Promise<void> {
    const maybe = context.needsDedup as RPCException;
    const monitor = this.monitor;
    for (;;) {
      const remaining = context.deadline.remaining();
      const proof = await proveDeduplication({
        monitor,
        facts: this.dedupFacts,
        transport: this.transport,
        failure: context.lastFailure ?? maybe,
        probeTimeoutMs: Math.min(this.options.reconnect.probeTimeoutMs, Math.max(1, remaining)),
        signal: context.signal,
      });
      context.lastFailure = undefined;
      if (proof === 'proven') return;
      if (proof === 'not-proven') {
        context.refused = new UnknownOutcomeException(
          `${context.plan.name}: not repeated: the node now serving did not advertise deduplication in its term`,
          { method: context.plan.name, attempts: n - 1, node: maybe.node, epoch: maybe.epoch, cause: maybe },
        );
        throw context.refused;
      }
      // No active node answered: an outage. Wait in the hold like any call, then ask again.
      const noService = new ConnectionFailureException(`${context.plan.name}: no active node to confirm deduplication with`, {
        method: context.plan.name,
        attempts: n - 1,
      });
      monitor.reportConnectionFailure(noService, monitor.generation);
      if (!monitor.holding) throw noService; // the monitor has given up: the retry loop decides
      const outcome = await monitor.waitForService(context.deadline.at, context.signal);
      if (outcome !== 'ready') throw this.waitError(outcome, context, n);
    }
  }

  /** Back-pressure: wait for the backend's "not before" time, or fail now if the deadline comes first. */
  private async waitForPacing(context: CallContext, n: number): Promise<void> {
    const backend = this.monitor.backend;
    const wait = this.pacing.delayFor(backend);
    if (wait <= 0) return;
    if (wait >= context.deadline.remaining()) {
      throw new DeadlineExceededException(
        `call deadline of ${context.deadline.ms} ms would pass during the server's requested pause (Retry-After)`,
        { method: context.plan.name, attempts: n - 1, mayHaveExecuted: false },
      );
    }
    try {
      await this.pacing.wait(backend, context.signal);
    } catch (error) {
      if (isRPCException(error)) throw error;
      throw new CallAbortedException('call aborted while waiting out the server\'s Retry-After', { method: context.plan.name, attempts: n - 1, cause: error });
    }
  }

  private attemptFailed(
    error: unknown,
    backend: string,
    generation: number,
    context: CallContext,
    n: number,
    cutByDeadline: boolean,
    /** When the attempt's own timeout was due (monotonic ms). */
    timeoutAt: number,
  ): RPCException {
    const failure = isRPCException(error)
      ? error
      : new ProtocolException(`transport failed: ${error instanceof Error ? error.message : 'non-error thrown'}`, {
          method: context.plan.name,
          attempts: n,
          cause: error,
        });
    // The attempt's timeout was what was left of the call's deadline, and it ran out: the call
    // ended because of its deadline, whichever of the two timers fired first.
    if (
      cutByDeadline &&
      (failure.kind === 'unknown-outcome' || failure.kind === 'connection-failure') &&
      context.deadline.remaining() <= DEADLINE_TIMER_SLACK_MS
    ) {
      return new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed`, {
        method: context.plan.name,
        attempts: n,
        node: failure.node,
        epoch: failure.epoch,
        mayHaveExecuted: failure.mayHaveExecuted,
        cause: failure,
      });
    }
    switch (failure.kind) {
      case 'remote-call':
        // The node executed the call and answered: it is alive and serving.
        this.breakers.observeIdentity(backend, failure.node, failure.epoch);
        this.monitor.reportAnswer(failure.node, failure.epoch, generation);
        break;
      case 'unknown-outcome':
        // No node answered and the path broke (the connection was cut after the request went
        // out, or a proxy answered a 5xx of its own): the node behind may be gone. The client
        // checks with a probe before sending again, so an outage shows after one failed attempt,
        // not after a retry into it. Not so for an attempt that ran into its own timeout (a slow
        // node is not a lost one: a probe with a shorter timeout would declare it down), nor for
        // an answer with a node's headers (a live node answered).
        if (failure.node === undefined && monotonicNow() < timeoutAt - DEADLINE_TIMER_SLACK_MS) {
          this.monitor.reportPathLost(failure, generation);
        }
        break;
      case 'connection-failure':
        if (failure instanceof ConnectionFailureException && failure.backPressure) {
          // A 429: the server is alive and asks for a pause. Not an outage (no hold, no probes);
          // every attempt to this backend waits for it (DESIGN §2, back-pressure).
          if (failure.retryAfterMs !== undefined) this.pacing.defer(backend, failure.retryAfterMs, this.retry.maxRetryAfterMs);
          break;
        }
        // The serving node rolled the call back or found its time spent: it is alive and serving,
        // so there is nothing to reconnect to (a lost lease shows as NOT_ACTIVE on the next call).
        if (failure instanceof ConnectionFailureException && (failure.nodeError === 'NOT_EXECUTED' || failure.nodeError === 'EXPIRED')) break;
        this.monitor.reportConnectionFailure(failure, generation);
        if (this.monitor.holding && failure instanceof ConnectionFailureException && failure.retryAfterMs !== undefined) {
          return withoutRetryAfter(failure);
        }
        break;
      default:
        break;
    }
    return failure;
  }

  private waitError(outcome: Exclude<WaitOutcome, 'ready'>, context: CallContext, n: number): RPCException {
    const method = context.plan.name;
    const attempts = n - 1;
    switch (outcome) {
      case 'deadline':
        return new DeadlineExceededException(`call deadline of ${context.deadline.ms} ms passed while waiting to reconnect`, {
          method,
          attempts,
          mayHaveExecuted: false,
        });
      case 'aborted':
        // The connection gave up while the call waited: the retry loop ends it as RetriesExhausted.
        if (context.waits.reason instanceof RetriesExhaustedException && !context.signal.aborted) return context.waits.reason;
        return new CallAbortedException('call aborted while waiting to reconnect', { method, attempts, cause: context.signal.reason });
      case 'closed':
        return new ClientClosedException('client closed while the call waited to reconnect', { method, attempts });
      case 'full':
        return new PendingLimitException(`${this.options.maxPending} calls are already waiting to reconnect (maxPending)`, {
          method,
          attempts,
        });
      case 'failed': {
        // The same error the give-up signal carries, so the retry loop does not count it twice.
        if (context.waits.reason instanceof RetriesExhaustedException) return context.waits.reason;
        const cause = this.monitor.lastCause;
        return new RetriesExhaustedException('reconnecting failed: maxReconnectAttempts spent', 'reconnect', cause ? [cause] : [], {
          method,
          attempts,
          mayHaveExecuted: false,
        });
      }
    }
  }

  /** The error a failed call rejects with; close() turns whatever was in flight into ClientClosed. */
  private finalError(error: unknown, method: string): unknown {
    if (!this.closedFlag || !isRPCException(error) || error.kind === 'client-closed') return error;
    if (error instanceof RemoteCallException) return error;
    return new ClientClosedException('client closed during the call', {
      method,
      attempts: error.attempts,
      node: error.node,
      epoch: error.epoch,
      cause: error,
      mayHaveExecuted: error.mayHaveExecuted,
    });
  }

  private emit(event: ClientEvent): void {
    if (!this.events.observed) return;
    this.events.next(this.scrub(event));
  }

  private emitRetry(method: string, event: RetryEvent): void {
    if (!this.events.observed) return;
    this.emit({ type: 'retry', method, attempt: event.attempt, delayMs: Math.round(event.delayMs), error: summarize(event.error) });
  }

  private planForUnlisted(name: string): MethodPlan {
    const plan = this.defaultPlanFor(name);
    // Remember a bounded number of names, so a caller inventing method names cannot grow the map forever.
    if (this.plans.size < 10_000) this.plans.set(name, plan);
    return plan;
  }

  private planFor(name: string, settings: MethodSettings): MethodPlan {
    const field = `methods.${name}.retry`;
    return {
      name,
      idempotent: settings.idempotent,
      retry: settings.retry === undefined ? this.retry : resolveRetryOptions(settings.retry, field, this.retry),
      timeoutMs: settings.timeoutMs ?? this.options.timeoutMs,
      deadlineMs: settings.deadlineMs ?? this.options.deadlineMs,
      retryOnCodes: settings.retryOnCodes,
    };
  }
}

/**
 * While the client probes for recovery, the next attempt waits in the connection monitor and is
 * released the moment a probe finds service — sooner and better informed than a `Retry-After`
 * guessed by a standby. So that hint is dropped then (it is still honoured outside an outage).
 */
function withoutRetryAfter(error: ConnectionFailureException): ConnectionFailureException {
  return new ConnectionFailureException(error.message, {
    method: error.method,
    attempts: error.attempts,
    node: error.node,
    epoch: error.epoch,
    cause: error.cause,
    mayHaveExecuted: error.mayHaveExecuted,
  });
}

/** One signal that aborts when either does (with that one's reason); dispose() unlinks. */
function linkSignals(a: AbortSignal, b: AbortSignal): { signal: AbortSignal; dispose: () => void } {
  if (a.aborted) return { signal: a, dispose: () => undefined };
  if (b.aborted) return { signal: b, dispose: () => undefined };
  const controller = new AbortController();
  const onA = (): void => {
    dispose();
    controller.abort(a.reason);
  };
  const onB = (): void => {
    dispose();
    controller.abort(b.reason);
  };
  const dispose = (): void => {
    a.removeEventListener('abort', onA);
    b.removeEventListener('abort', onB);
  };
  a.addEventListener('abort', onA, { once: true });
  b.addEventListener('abort', onB, { once: true });
  return { signal: controller.signal, dispose };
}

function breakerEvent(event: BreakerStateEvent): ClientEvent {
  const type = event.state === 'open' ? 'breaker-open' : event.state === 'half-open' ? 'breaker-half-open' : 'breaker-close';
  return { type, backend: event.backend, node: event.node, epoch: event.epoch, cause: event.cause };
}

function transportOptions(options: ResolvedClientOptions): AxiosTransportOptions {
  const out: AxiosTransportOptions = {
    rpcPath: options.rpcPath,
    healthPath: options.healthPath,
    maxResponseBytes: options.maxResponseBytes,
  };
  if (options.axios !== undefined) out.axios = options.axios;
  if (options.headers !== undefined) out.headers = { ...options.headers };
  if (options.auth !== undefined) out.auth = options.auth;
  if (options.idleSocketTimeoutMs !== undefined) out.idleSocketTimeoutMs = options.idleSocketTimeoutMs;
  return out;
}

function summarize(error: RPCException): ErrorSummary {
  return { kind: error.kind, message: redactText(error.message), mayHaveExecuted: error.mayHaveExecuted };
}
