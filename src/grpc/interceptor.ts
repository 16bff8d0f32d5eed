/**
 * `grpcInterceptor`: every unary call of a `@grpc/grpc-js` client runs as one logical call of a
 * hotcold {@link Policy}: per-attempt calls down the interceptor chain (gRFC L5 interceptors, as
 * in grpc-node's retry-interceptor example), the idempotency key as `idempotency-key` metadata on
 * every attempt, the rest of the call's deadline as each attempt's gRPC deadline, and each
 * status classified by {@link classifyGrpcStatus}.
 */
import { injectTraceInto } from '../observability/propagation.js';
import type { InterceptingCall } from '@grpc/grpc-js';
import { loadGrpc } from './load-grpc.js';
import { CallAbortedException, ConfigurationError, ProtocolException, RPCException, UnknownOutcomeException } from '../errors.js';
import { createPolicy, type AttemptContext, type Policy, type PolicyOptions } from './policy.js';
import { classifyGrpcStatus } from './classify-status.js';
import { callerStatus, type AttemptStatuses } from './error-status.js';
import type { GrpcCallLike, GrpcInterceptorOptionsLike, GrpcListenerLike, GrpcMetadataLike } from './grpc-types.js';
import { GrpcMetadataKeys, readIdentityFacts, readResponseFacts } from './metadata-facts.js';
import { metadataSecrets } from './metadata-secrets.js';
import { requireGrpcMethodKeys } from './method-keys.js';
import { GrpcStatus } from './status-codes.js';
import { runUnaryAttempt, type UnaryAttemptResult } from './unary-attempt.js';

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

/** ms left until a grpc-js deadline (`Date` or ms since the epoch); undefined for none. */
function deadlineLeftMs(deadline: Date | number | undefined): number | undefined {
  if (deadline === undefined) return undefined;
  const at = deadline instanceof Date ? deadline.getTime() : deadline;
  if (!Number.isFinite(at)) return undefined;
  return Math.max(1, at - Date.now());
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
 *   (the caller's `deadline` call option and the policy's `deadlineMs`, whichever ends first).
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
  const owned = !isPolicy(policyOrOptions);
  if (owned) requireGrpcMethodKeys(policyOrOptions.methods);
  const policy = isPolicy(policyOrOptions) ? policyOrOptions : createPolicy(policyOrOptions);
  const statuses: AttemptStatuses = new WeakMap();

  function intercept(options: GrpcInterceptorOptionsLike, nextCall: (options: GrpcInterceptorOptionsLike) => GrpcCallLike): InterceptingCall {
    const definition = options.method_definition;
    if (definition.requestStream || definition.responseStream) {
      return new grpc.InterceptingCall(nextCall(options) as ConstructorParameters<typeof InterceptingCall>[0]);
    }
    return unaryCall(options, nextCall);
  }

  function unaryCall(options: GrpcInterceptorOptionsLike, nextCall: (options: GrpcInterceptorOptionsLike) => GrpcCallLike): InterceptingCall {
    const method = options.method_definition.path;
    let metadata: GrpcMetadataLike | undefined;
    let listener: GrpcListenerLike | undefined;
    let request: unknown;
    let current: GrpcCallLike | undefined;
    let begun = false;
    /** The caller's cancel() came; its answer is given (no AbortSignal per call: see `cancel`). */
    let cancelled = false;
    // What a cancel may have left behind, by the policy's own rule (DESIGN §2): the call may have
    // run if an attempt is in flight, or one that ended may have run by its classification.
    // An attempt that failed "never sent" (refused, not forwarded) leaves nothing behind.
    /** An attempt is in flight now. */
    let inFlight = false;
    /** An attempt that ended may have run (an answer, or a failure classified "maybe"). */
    let mayHaveRun = false;
    /** The caller got its final status. */
    let answered = false;

    const aborted = (mayHaveExecuted: boolean): CallAbortedException =>
      new CallAbortedException(`${method}: cancelled by the caller`, { method, mayHaveExecuted });

    const attempt = async (context: AttemptContext): Promise<UnaryAttemptResult> => {
      if (cancelled) throw aborted(false);
      const attemptMetadata = (metadata as GrpcMetadataLike).clone();
      attemptMetadata.set(GrpcMetadataKeys.idempotencyKey, context.idempotencyKey);
      attemptMetadata.set(GrpcMetadataKeys.attempt, String(context.attempt));
      // W3C trace context of the call (its span is active here when telemetry is on).
      injectTraceInto(attemptMetadata);
      const left = context.deadlineLeftMs;
      const call = nextCall({ ...options, deadline: Number.isFinite(left) ? Date.now() + Math.max(1, left) : Infinity });
      current = call;
      let result: UnaryAttemptResult;
      inFlight = true;
      try {
        result = await runUnaryAttempt(call, attemptMetadata, request, context.signal);
      } catch (error) {
        // Ended by its timeout or the policy's close while out on the wire: it may have run.
        mayHaveRun = true;
        throw error;
      } finally {
        inFlight = false;
      }
      if (cancelled) throw aborted(true);
      if (result.status.code === GrpcStatus.OK) {
        mayHaveRun = true;
        const facts = readIdentityFacts(result.headers, result.status.metadata);
        // Only a served call says who serves: a standby's NOT_ACTIVE names a node that does not
        // (its identity stays on the exception, for the record).
        if (facts.node !== undefined || facts.epoch !== undefined || facts.dedup !== undefined) {
          context.report({ node: facts.node, epoch: facts.epoch, dedup: facts.dedup });
        }
        return result;
      }
      const facts = readResponseFacts(result.headers, result.status.metadata);
      const secrets = metadataSecrets(metadata);
      const scrub = secrets.empty ? undefined : (text: string): string => secrets.text(text);
      const error = classifyGrpcStatus(result.status, facts, { headersReceived: result.headers !== undefined }, { method, attempt: context.attempt, scrub });
      statuses.set(error, result.status);
      if (error.mayHaveExecuted) mayHaveRun = true;
      throw error;
    };

    const deliver = (result: UnaryAttemptResult): void => {
      if (answered) return;
      answered = true;
      if (result.headers !== undefined) listener?.onReceiveMetadata(result.headers);
      if (result.message !== undefined) listener?.onReceiveMessage(result.message);
      listener?.onReceiveStatus(result.status);
    };
    const fail = (reason: unknown): void => {
      if (answered) return;
      answered = true;
      const error =
        reason instanceof RPCException
          ? reason
          : reason instanceof ConfigurationError
            ? // Refused before any attempt (e.g. an `idempotency-key` over 200 characters): nothing was sent.
              new ProtocolException(`${method}: not sent: ${reason.message}`, { method, cause: reason, mayHaveExecuted: false })
            : new UnknownOutcomeException(`${method}: the policy failed`, { method, cause: reason });
      listener?.onReceiveStatus(callerStatus(error, statuses, () => new grpc.Metadata()));
    };

    const begin = (): void => {
      if (begun || metadata === undefined) return;
      begun = true;
      let running: Promise<UnaryAttemptResult>;
      try {
        running = policy.execute(attempt, {
          name: method,
          idempotencyKey: firstText(metadata, GrpcMetadataKeys.idempotencyKey),
          deadlineMs: deadlineLeftMs(options.deadline),
        });
      } catch (error) {
        running = Promise.reject(error);
      }
      running.then(deliver, fail);
    };

    // The chain below ours: only peer and auth-context questions reach it, answered by the latest attempt.
    const below = {
      cancelWithStatus(): void {},
      getPeer: (): string => current?.getPeer() ?? '',
      start(): void {},
      sendMessageWithContext(): void {},
      sendMessage(): void {},
      startRead(): void {},
      halfClose(): void {},
      getAuthContext: (): null => null,
    };
    return new grpc.InterceptingCall(below, {
      start(startMetadata, startListener) {
        metadata = startMetadata;
        listener = startListener;
      },
      sendMessage(message) {
        request = message;
      },
      halfClose() {
        begin();
      },
      // The caller's cancel() answers at once (CANCELLED) and ends the attempt in flight; the
      // policy's own run ends at its next step (an attempt it starts throws CallAborted, which is
      // never retried). A caller's AbortSignal per call would make the pipeline link signals on
      // every call (measured here at several times the pipeline's own cost) for a rare event.
      cancel() {
        if (cancelled || answered) return;
        cancelled = true;
        begun = true;
        current?.cancelWithStatus(GrpcStatus.CANCELLED, 'Cancelled on client');
        fail(aborted(inFlight || mayHaveRun));
      },
    });
  }

  return Object.assign(intercept, {
    policy,
    close: (): Promise<void> => (owned ? policy.close() : Promise.resolve()),
  }) as unknown as GrpcInterceptor;
}
