/**
 * `grpcInterceptor`: every unary call of a `@grpc/grpc-js` client runs as one logical call of a
 * hotcold {@link Policy}: per-attempt calls down the interceptor chain (gRFC L5 interceptors, as
 * in grpc-node's retry-interceptor example), the idempotency key as `idempotency-key` metadata on
 * every attempt, the rest of the call's deadline as each attempt's gRPC deadline, and each
 * status classified by {@link classifyGrpcStatus}.
 */
import { injectTraceInto } from '../observability/propagation.js';
import { monotonicNow } from '../shared/clock.js';
import { InflightAttempts } from '../shared/inflight.js';
import type { InterceptingCall } from '@grpc/grpc-js';
import { loadGrpc } from './load-grpc.js';
import { CallAbortedException, ConfigurationError, DeadlineExceededException, ProtocolException, RPCException, UnknownOutcomeException } from '../errors.js';
import { createSelfTimedPolicy, type AttemptContext, type Policy, type PolicyOptions, type SelfTimedRunOptions } from './policy.js';
import { classifyGrpcStatus } from './classify-status.js';
import { callerStatus, type AttemptStatuses } from './error-status.js';
import type { GrpcCallLike, GrpcInterceptorOptionsLike, GrpcListenerLike, GrpcMetadataLike, GrpcParentCallLike } from './grpc-types.js';
import { GrpcMetadataKeys, readIdentityFacts, readResponseFacts, type IdentityFacts } from './metadata-facts.js';
import { metadataSecrets } from './metadata-secrets.js';
import { requireGrpcMethodKeys } from './method-keys.js';
import { GrpcStatus } from './status-codes.js';
import { UnaryAttempt, type UnaryAttemptOwner, type UnaryAttemptResult } from './unary-attempt.js';
import { callDeadlineLeftMs, cancellingParent, parentProblem, sentDeadline } from './deadline.js';

/**
 * Options of {@link grpcInterceptor} when it creates its own policy: {@link PolicyOptions}, with
 * `methods` keyed by the full gRPC method path, as grpc-js names it (`'/package.Service/Method'`),
 * or by a whole service, `'/package.Service/*'` (gRFC A6's name `{ service }` without a method);
 * an exact method's entry wins over its service's. Any other key is a `ConfigurationError` naming
 * `methods.<key>`. Like gRFC A6's `methodConfig`, each entry is a policy: `idempotent` (default false:
 * an attempt that may have run is retried only under an idempotency key the server deduplicates),
 * `timeoutMs` (per attempt), `deadlineMs` (whole call), `retry`, `retryOnCodes` (gRPC status codes
 * of application answers to retry, e.g. `[10]` for ABORTED).
 */
export type GrpcInterceptorOptions = PolicyOptions;

/**
 * A grpc-js client interceptor (pass it in `interceptors`) that also holds its policy.
 *
 * The call signature is generic so this type compiles without `@grpc/grpc-js` installed; with it,
 * TypeScript checks it against grpc-js's `Interceptor` (`Call` is grpc-js's `InterceptingCall`).
 */
export interface GrpcInterceptor {
  <Options extends GrpcInterceptorOptionsLike, Call>(options: Options, nextCall: (options: Options) => GrpcCallLike): Call;
  /** The policy every unary call runs under: `state$`, `events$`, `failover$`, `reconnected$`. */
  readonly policy: Policy;
  /** Closes the policy if this interceptor created it (a policy passed in stays the caller's to close). */
  close(): Promise<void>;
}

function isPolicy(value: object): value is Policy {
  return typeof (value as { execute?: unknown }).execute === 'function' && typeof (value as { close?: unknown }).close === 'function';
}

function firstText(metadata: GrpcMetadataLike, key: string): string | undefined {
  for (const value of metadata.get(key)) if (typeof value === 'string' && value.length > 0) return value;
  return undefined;
}

/**
 * Makes a grpc-js client interceptor that runs each unary call through a hotcold policy.
 *
 * - Attempts: each is a new call down the chain, with metadata `idempotency-key` (one per logical
 *   call: the caller's own `idempotency-key` metadata if it set one, else the policy's) and
 *   `x-hotcold-attempt`, and the gRPC deadline set to what is left of the whole call's deadline
 *   (the caller's `deadline` call option, a `parent` server call's deadline when
 *   `propagate_flags` include DEADLINE — grpc-js's default — and the method's or the policy's
 *   `deadlineMs`, whichever ends first: the whole call, its retries and its hold while
 *   reconnecting end then).
 * - Outcomes: `x-hotcold-node` / `x-hotcold-epoch` / `x-hotcold-dedup` response metadata is
 *   reported to the policy; a failed status is classified by {@link classifyGrpcStatus}
 *   (docs/grpc.md has the table). When the policy gives up, the caller's call fails with a
 *   grpc-js `ServiceError` whose `cause` is the {@link RPCException} ({@link rpcExceptionOf}).
 * - Streaming calls pass through untouched (not covered yet; docs/grpc.md).
 *
 * @param policyOrOptions a policy from `createPolicy` (shared with other adapters, closed by you),
 *   or {@link GrpcInterceptorOptions} to create one (closed by `interceptor.close()`)
 * @throws {ConfigurationError} when `policyOrOptions` is not an object, or an option is invalid
 * @example
 * import * as grpc from '@grpc/grpc-js';
 * import { grpcInterceptor, grpcHealthProbe } from 'hotcold/grpc';
 * import { ledgerGrpcService } from 'hotcold/testing'; // stands for your generated service definition
 *
 * const Ledger = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
 * const interceptor = grpcInterceptor({
 *   methods: { '/hotcold.testing.Ledger/Transfer': { idempotent: false }, '/hotcold.testing.Ledger/Balance': { idempotent: true } },
 *   probe: grpcHealthProbe(() => client),
 * });
 * const client = new Ledger('balancer:8443', grpc.credentials.createInsecure(), { interceptors: [interceptor] });
 */
export function grpcInterceptor(policyOrOptions: Policy | GrpcInterceptorOptions): GrpcInterceptor {
  if (typeof policyOrOptions !== 'object' || policyOrOptions === null) {
    throw new ConfigurationError('policyOrOptions', 'must be a policy from createPolicy or an options object');
  }
  const grpc = loadGrpc();
  const inflight = new InflightAttempts<UnaryAttempt>();
  let policy: Policy;
  let run: Shared['run'];
  let selfTimed: boolean;
  let report: Shared['report'] = reportThroughContext;
  let cancel: Shared['cancel'];
  if (isPolicy(policyOrOptions)) {
    // The caller's policy may be shared with other adapters: it races each attempt as it was made
    // to, and its calls take the caller's cancel as a signal (see UnaryCall.begin).
    policy = policyOrOptions;
    run = (fn, arg, name, options) => policy.execute((context) => fn(context, arg), { name, ...options });
    selfTimed = false;
  } else {
    requireGrpcMethodKeys(policyOrOptions.methods);
    // Our own policy leaves each attempt to us (one timer for all, below): the pipeline would
    // otherwise race every attempt again with a timer entry, a promise and closures of its own.
    // We end the attempts at their timeout, and at the policy's close(): `closing` aborts then.
    const own = createSelfTimedPolicy(policyOrOptions);
    policy = own.policy;
    run = own.run;
    report = own.report;
    cancel = own.cancel;
    selfTimed = true;
    const closing = own.closing;
    closing.addEventListener(
      'abort',
      () => {
        // The attempt's error as the pipeline's own race ends an attempt on close() (an
        // AbortError caused by the closing reason): classified the same, "may have run".
        for (const attempt of inflight.snapshot()) attempt.abort(closedError(closing.reason));
      },
      { once: true },
    );
  }
  const shared: Shared = {
    policy,
    run,
    selfTimed,
    report,
    cancel,
    identity: selfTimed ? { node: undefined, epoch: undefined, dedup: undefined } : undefined,
    statuses: new WeakMap(),
    newMetadata: () => new grpc.Metadata(),
    inflight,
  };

  function intercept(options: GrpcInterceptorOptionsLike, nextCall: (options: GrpcInterceptorOptionsLike) => GrpcCallLike): InterceptingCall {
    const definition = options.method_definition;
    if (definition.requestStream || definition.responseStream) {
      return new grpc.InterceptingCall(nextCall(options) as ConstructorParameters<typeof InterceptingCall>[0]);
    }
    // grpc-js's client and any interceptor above this one use only the call interface, so one
    // object of our own stands for grpc-js's InterceptingCall, its requester and listener
    // wrappers (measured: those alone cost more per call than the policy's success path).
    return new UnaryCall(shared, options, nextCall) as unknown as InterceptingCall;
  }

  return Object.assign(intercept, {
    policy,
    close: (): Promise<void> => (selfTimed ? policy.close() : Promise.resolve()),
  }) as unknown as GrpcInterceptor;
}

/** The status a call ends with when its parent is cancelled: grpc-js's own for an attempt cancelled so. */
const PARENT_CANCELLED = Object.freeze({ code: GrpcStatus.CANCELLED, details: 'Cancelled by parent call' });

/** The error an attempt in flight ends with when the policy closes. */
function closedError(reason: unknown): DOMException {
  const error = new DOMException('attempt aborted', 'AbortError');
  if (reason !== undefined) Object.defineProperty(error, 'cause', { value: reason, enumerable: false });
  return error;
}

function reportThroughContext(context: AttemptContext, facts: IdentityFacts): void {
  context.report(facts);
}

function deliverAnswer(attempt: UnaryAttemptResult): void {
  (attempt as UnaryAttempt).owner.deliver(attempt);
}

/** One attempt of `call` (a module function: no closure per call). */
function runAttempt(context: AttemptContext, call: UnaryCall): Promise<UnaryAttemptResult> {
  return call.attempt(context);
}

/** A call's options: our own policy's, and the caller's cancel as a signal for a policy passed in. */
type RunOptions = SelfTimedRunOptions & { signal?: AbortSignal | undefined };

/** What every call of one interceptor shares. */
interface Shared {
  readonly policy: Policy;
  /** Runs `fn(context, arg)` as one logical call of the policy. */
  readonly run: <A, R>(fn: (context: AttemptContext, arg: A) => Promise<R>, arg: A, name: string, options: RunOptions | undefined) => Promise<R>;
  /** The policy is ours and leaves its attempts to us: we end them at their timeout and its close(). */
  readonly selfTimed: boolean;
  /**
   * Our own policy: ends the waits (hold, backoff, breaker) of a call the caller cancelled, found
   * by its UnaryCall; undefined for a policy passed in (its calls get a signal instead).
   */
  readonly cancel: ((call: UnaryCall, reason: unknown) => void) | undefined;
  /** `context.report(facts)` (our own policy's without a closure per attempt). */
  readonly report: (context: AttemptContext, facts: IdentityFacts) => void;
  /**
   * One object every call's identity is read into, where the policy copies what is reported
   * (our own); undefined for a policy passed in (it may keep the object), which gets one per call.
   */
  readonly identity: IdentityFacts | undefined;
  /** The attempt statuses behind the exceptions this interceptor threw. */
  readonly statuses: AttemptStatuses;
  readonly newMetadata: () => GrpcMetadataLike;
  /** This interceptor's attempts in flight, and the one timer that cancels them at their timeout. */
  readonly inflight: InflightAttempts<UnaryAttempt>;
}

/**
 * One unary call as the caller's grpc-js call sees it (grpc-js's `InterceptingCallInterface`):
 * it collects the caller's metadata, request and listener, runs the call through the policy on
 * half-close, and answers the caller once the policy is done. Each attempt is a
 * {@link UnaryAttempt} down the chain; this object hears of its end.
 */
class UnaryCall implements UnaryAttemptOwner {
  // Declared and set in the constructor: one of these is made per call (see pipeline.ts's CallContext).
  declare private readonly shared: Shared;
  declare private readonly options: GrpcInterceptorOptionsLike;
  declare private readonly nextCall: (options: GrpcInterceptorOptionsLike) => GrpcCallLike;
  declare private readonly method: string;
  declare private metadata: GrpcMetadataLike | undefined;
  declare private listener: GrpcListenerLike | undefined;
  declare private request: unknown;
  /** The latest attempt's call: peer questions and the caller's cancel go to it. */
  declare private current: GrpcCallLike | undefined;
  declare private begun: boolean;
  /** The caller's cancel() came; its answer is given (no AbortSignal per call: see `cancelWithStatus`). */
  declare private cancelled: boolean;
  // What a cancel may have left behind, by the policy's own rule (DESIGN §2): the call may have
  // run if an attempt is in flight, or one that ended may have run by its classification.
  // An attempt that failed "never sent" (refused, not forwarded) leaves nothing behind.
  /** An attempt is in flight now. */
  declare private inFlight: boolean;
  /** An attempt that ended may have run (an answer, or a failure classified "maybe"). */
  declare private mayHaveRun: boolean;
  /** The caller got its final status. */
  declare private answered: boolean;
  /** The attempt context of the latest attempt (its number, its `report`). */
  declare private context: AttemptContext | undefined;
  /** The latest attempt; only its end changes what this call knows. */
  declare private latest: UnaryAttempt | undefined;
  /** A policy passed in: the call's signal, aborted by the caller's cancel (ours: `shared.cancel`). */
  declare private abortController: AbortController | undefined;
  /** The `parent` server call whose cancellation ends this call (CANCELLATION propagated), while it runs. */
  declare private parent: GrpcParentCallLike | undefined;
  /** Our `'cancelled'` listener on {@link parent}, removed when the call ends. */
  declare private onParentCancelled: (() => void) | undefined;
  /** Ms left of the call's own deadline (its option's, its parent's) when it began; undefined for none. */
  declare private deadlineMs: number | undefined;

  constructor(shared: Shared, options: GrpcInterceptorOptionsLike, nextCall: (options: GrpcInterceptorOptionsLike) => GrpcCallLike) {
    this.shared = shared;
    this.options = options;
    this.nextCall = nextCall;
    this.method = options.method_definition.path;
    this.metadata = undefined;
    this.listener = undefined;
    this.request = undefined;
    this.current = undefined;
    this.begun = false;
    this.cancelled = false;
    this.inFlight = false;
    this.mayHaveRun = false;
    this.answered = false;
    this.context = undefined;
    this.latest = undefined;
    this.abortController = undefined;
    this.parent = undefined;
    this.onParentCancelled = undefined;
    this.deadlineMs = undefined;
  }

  // The call interface, as grpc-js's client (or an interceptor above) drives it.

  start(metadata: GrpcMetadataLike, listener: GrpcListenerLike): void {
    this.metadata = metadata;
    this.listener = listener;
  }

  sendMessageWithContext(_context: unknown, message: unknown): void {
    this.request = message;
  }

  sendMessage(message: unknown): void {
    this.request = message;
  }

  startRead(): void {}

  halfClose(): void {
    this.begin();
  }

  /** Only peer questions reach below us: answered by the latest attempt. */
  getPeer(): string {
    return this.current?.getPeer() ?? '';
  }

  /** As grpc-js's InterceptingCall: the latest attempt's (a TLS peer's certificate); null before one. */
  getAuthContext(): unknown {
    return this.current?.getAuthContext?.() ?? null;
  }

  /**
   * The caller's cancel() answers at once (CANCELLED) and ends the attempt in flight; a call
   * that waits in the policy (held while reconnecting, in a backoff, for the breaker) leaves that
   * wait now, so it no longer holds a `maxPending` place; an attempt the policy would start next
   * throws CallAborted (never retried). Our own policy is told through `shared.cancel`: an
   * AbortSignal per call would make the pipeline link signals on every call (measured here at
   * several times the pipeline's own cost) for a rare event. A policy passed in races its
   * attempts and takes the call's signal.
   *
   * The status is the canceller's, as grpc-js's InterceptingCall passes it down the chain: the
   * caller's `cancel()` sends CANCELLED, and an interceptor above may end the call with a code
   * and details of its own (its own timeout, say), which the caller gets as they were given.
   */
  cancelWithStatus(code?: number, details?: string): void {
    const own = typeof code === 'number' && code !== GrpcStatus.OK ? { code, details: typeof details === 'string' ? details : '' } : undefined;
    this.endFromAbove(own, undefined);
  }

  /**
   * The `parent` server call was cancelled and this call propagates CANCELLATION (grpc-js's
   * default with a parent): the caller's caller gave up, so the whole call ends as the caller's
   * cancel ends it (no retry, nothing held against the backend). grpc-js itself cancels only
   * the attempt in flight (its listener is per attempt, and the event comes once): the policy
   * then sent the next attempt, which ran for nobody. A parent that ended at its deadline (this
   * call's too, when DEADLINE is propagated) ends the call as that deadline does.
   */
  private parentCancelled(): void {
    const left = callDeadlineLeftMs(this.options);
    if (typeof left === 'number' && left <= 0) {
      const method = this.method;
      const ms = this.deadlineMs === undefined ? '' : `of ${Math.round(this.deadlineMs)} ms `;
      this.endFromAbove(
        undefined,
        new DeadlineExceededException(`${method}: call deadline ${ms}passed (its parent call's)`, {
          method,
          attempts: this.context?.attempt ?? 0,
          mayHaveExecuted: this.inFlight || this.mayHaveRun,
        }),
      );
      return;
    }
    this.endFromAbove(PARENT_CANCELLED, this.aborted(this.inFlight || this.mayHaveRun, 'cancelled by its parent call (the caller\'s caller gave up)'));
  }

  /**
   * Ends the call from above: the caller's cancel (`own`: the status an interceptor above gave),
   * or its parent's. `reason` is what the call ends with (default: cancelled by the caller).
   */
  private endFromAbove(own: { code: number; details: string } | undefined, reason: RPCException | undefined): void {
    if (this.cancelled || this.answered) return;
    this.cancelled = true;
    this.begun = true;
    // Read before the attempt is cancelled (its status may come back at once).
    const mayHaveExecuted = this.inFlight || this.mayHaveRun;
    this.current?.cancelWithStatus(own?.code ?? GrpcStatus.CANCELLED, own?.details ?? 'Cancelled on client');
    const why = reason ?? this.aborted(mayHaveExecuted);
    this.fail(why, own);
    // A call held while reconnecting (or in a backoff) leaves the policy now: otherwise it would
    // hold a `maxPending` place, and the policy its wait, until the deadline.
    if (this.shared.cancel !== undefined) this.shared.cancel(this, why);
    this.abortController?.abort(why);
  }

  /** Stops listening to the parent (the call ended): thousands of calls may share one parent. */
  private detachParent(): void {
    const parent = this.parent;
    if (parent === undefined) return;
    this.parent = undefined;
    parent.removeListener?.('cancelled', this.onParentCancelled as () => void);
    this.onParentCancelled = undefined;
  }

  private begin(): void {
    const metadata = this.metadata;
    if (this.begun || metadata === undefined) return;
    this.begun = true;
    const idempotencyKey = firstText(metadata, GrpcMetadataKeys.idempotencyKey);
    // The call's own deadline as grpc-js bounds it: its `deadline` option and, made for a server
    // call (`parent`) with DEADLINE propagation (grpc-js's default), the parent's; the earlier.
    const deadlineMs = callDeadlineLeftMs(this.options);
    let running: Promise<UnaryAttemptResult>;
    // A policy passed in races its attempts and takes a signal per call (that cost is its own);
    // ours is told of a cancel through `shared.cancel` and needs none.
    let signal: AbortSignal | undefined;
    if (!this.shared.selfTimed) {
      this.abortController = new AbortController();
      signal = this.abortController.signal;
    }
    const badParent = parentProblem(this.options);
    if (badParent !== undefined) {
      // Not a server call: grpc-js would throw inside every attempt, read as a backend failure.
      running = Promise.reject(new ConfigurationError('parent', badParent));
    } else if (deadlineMs === 'invalid') {
      // NaN, an invalid Date, a string: the caller's bug, not "no deadline" (it went out with none).
      // Nothing is sent; the caller hears so as of a refused idempotency-key (see `fail`).
      running = Promise.reject(new ConfigurationError('deadline', 'must be a Date or a number of ms since the epoch (Infinity: none), not NaN or an invalid Date'));
    } else if (deadlineMs !== undefined && deadlineMs <= 0) {
      // The caller's deadline passed before the call began: nothing is sent (grpc-js ends such a
      // call with DEADLINE_EXCEEDED too), and the caller hears so asynchronously, as of any call.
      const method = this.method;
      running = Promise.reject(new DeadlineExceededException(`${method}: the call's deadline had passed before it began`, { method, attempts: 0, mayHaveExecuted: false }));
    } else {
      this.deadlineMs = deadlineMs;
      const parent = cancellingParent(this.options);
      if (parent !== undefined) {
        // Cancelled before the call began (its 'cancelled' event is gone): nothing is sent.
        if (parent.cancelled === true) {
          this.parentCancelled();
          return;
        }
        // Listened to before the first attempt exists, so this listener runs before grpc-js's own
        // (one per attempt, which would end only that attempt, as a failure of it).
        const listener = (): void => this.parentCancelled();
        this.parent = parent;
        this.onParentCancelled = listener;
        parent.on?.('cancelled', listener);
      }
      try {
        running = this.shared.run(
          runAttempt,
          this,
          this.method,
          // The caller's deadline bounds the method's (or the policy's) deadlineMs, never replaces
          // it: the call, its retries and its hold end at whichever ends first (docs/grpc.md).
          idempotencyKey === undefined && deadlineMs === undefined && signal === undefined ? undefined : { idempotencyKey, outerDeadlineMs: deadlineMs, signal },
        );
      } catch (error) {
        running = Promise.reject(error);
      }
    }
    // Our own policy's result is the attempt that answered (it passes the attempt's value on):
    // the attempt knows its call, so success needs no closure per call.
    if (this.shared.selfTimed) running.then(deliverAnswer, (reason: unknown) => this.fail(reason));
    else
      running.then(
        (result) => this.deliver(result),
        (reason: unknown) => this.fail(reason),
      );
  }

  private aborted(mayHaveExecuted: boolean, why = 'cancelled by the caller'): CallAbortedException {
    const method = this.method;
    return new CallAbortedException(`${method}: ${why}`, { method, mayHaveExecuted });
  }

  /** One attempt: a new call down the chain, with this attempt's metadata and deadline. */
  attempt(context: AttemptContext): Promise<UnaryAttemptResult> {
    // An attempt the policy gave up on (its own timer fired first) goes before the next is sent.
    // (Our own policy waits for each attempt to end: nothing to do there.)
    if (!this.shared.selfTimed) this.latest?.abort(new DOMException('attempt ended by the policy', 'AbortError'));
    if (this.cancelled) return Promise.reject(this.aborted(false));
    // Our own policy starts no attempt for a call its close() ended (a raced one checks itself).
    if (this.shared.selfTimed && context.signal.aborted) return Promise.reject(this.notStarted(context));
    const metadata = (this.metadata as GrpcMetadataLike).clone();
    metadata.set(GrpcMetadataKeys.idempotencyKey, context.idempotencyKey);
    metadata.set(GrpcMetadataKeys.attempt, String(context.attempt));
    // W3C trace context of the call (its span is active here when telemetry is on).
    injectTraceInto(metadata);
    const call = this.nextCall({ ...this.options, deadline: sentDeadline(context.deadlineLeftMs) });
    this.current = call;
    this.context = context;
    // The attempt's timeout is timed here, in the one-timer registry (see unary-attempt.ts).
    const attempt = new UnaryAttempt(this, call, this.shared.inflight, monotonicNow(), context.timeoutMs);
    this.latest = attempt;
    const pending = new Promise<UnaryAttemptResult>((resolve, reject) => {
      attempt.resolve = resolve;
      attempt.reject = reject;
    });
    this.inFlight = true;
    attempt.start(metadata, this.request);
    return pending;
  }

  private notStarted(context: AttemptContext): CallAbortedException {
    const method = this.method;
    return new CallAbortedException('call aborted before the attempt started', {
      method,
      attempts: context.attempt - 1,
      mayHaveExecuted: false,
      cause: context.signal.reason,
    });
  }

  attemptEnded(attempt: UnaryAttempt, reason: unknown): void {
    // Ended by its timeout or the policy's close while out on the wire: it may have run.
    if (attempt === this.latest) this.inFlight = false;
    this.mayHaveRun = true;
    attempt.reject(reason);
  }

  attemptAnswered(attempt: UnaryAttempt): void {
    this.inFlight = false;
    if (this.cancelled) {
      attempt.reject(this.aborted(true));
      return;
    }
    const context = this.context as AttemptContext;
    const status = attempt.status;
    if (status.code === GrpcStatus.OK) {
      this.mayHaveRun = true;
      // Only a served call says who serves: a standby's NOT_ACTIVE names a node that does not
      // (its identity stays on the exception, for the record).
      const shared = this.shared;
      const facts = shared.identity ?? { node: undefined, epoch: undefined, dedup: undefined };
      if (readIdentityFacts(attempt.headers, status.metadata, facts)) shared.report(context, facts);
      attempt.resolve(attempt);
      return;
    }
    let error: RPCException;
    try {
      error = this.classify(attempt, context);
    } catch (thrown) {
      attempt.reject(thrown);
      return;
    }
    if (error.mayHaveExecuted) this.mayHaveRun = true;
    attempt.reject(error);
  }

  private classify(attempt: UnaryAttempt, context: AttemptContext): RPCException {
    const status = attempt.status;
    const facts = readResponseFacts(attempt.headers, status.metadata);
    const secrets = metadataSecrets(this.metadata);
    const scrub = secrets.empty ? undefined : (text: string): string => secrets.text(text);
    const method = this.method;
    const error = classifyGrpcStatus(status, facts, { headersReceived: attempt.headers !== undefined }, { method, attempt: context.attempt, scrub });
    this.shared.statuses.set(error, status);
    return error;
  }

  deliver(result: UnaryAttemptResult): void {
    if (this.answered) return;
    this.answered = true;
    this.detachParent();
    const listener = this.listener;
    if (result.headers !== undefined) listener?.onReceiveMetadata(result.headers);
    if (result.message !== undefined) listener?.onReceiveMessage(result.message);
    listener?.onReceiveStatus(result.status);
  }

  /** @param cancelled the status an interceptor above cancelled the call with (see `cancelWithStatus`) */
  private fail(reason: unknown, cancelled?: { code: number; details: string }): void {
    if (this.answered) return;
    this.answered = true;
    this.detachParent();
    // The policy gave up while an attempt was out (its close(), or its timer before ours): the
    // attempt is cancelled now, as the attempt's own signal did before (unary-attempt.ts).
    // (The caller's own cancel ended its attempt already, with its own outcome.)
    if (this.inFlight && !this.cancelled) this.latest?.abort(new DOMException('attempt ended by the policy', 'AbortError'));
    const method = this.method;
    const error =
      reason instanceof RPCException
        ? reason
        : reason instanceof ConfigurationError
          ? // Refused before any attempt (e.g. an `idempotency-key` over 200 characters): nothing was sent.
            new ProtocolException(`${method}: not sent: ${reason.message}`, { method, cause: reason, mayHaveExecuted: false })
          : new UnknownOutcomeException(`${method}: the policy failed`, { method, cause: reason });
    const status = callerStatus(error, this.shared.statuses, this.shared.newMetadata);
    if (cancelled !== undefined) {
      status.code = cancelled.code;
      status.details = cancelled.details;
    }
    const listener = this.listener;
    // The status passed on is the latest attempt's (its very trailers): its response headers go
    // first, as grpc-js gives a failed call's headers to the caller ('metadata' event) too.
    const latest = this.latest;
    if (latest !== undefined && latest.headers !== undefined && latest.status.metadata === status.metadata) listener?.onReceiveMetadata(latest.headers);
    listener?.onReceiveStatus(status);
  }
}
