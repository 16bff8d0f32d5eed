/**
 * One attempt of a unary call: a fresh call one level down the interceptor chain, started with the
 * attempt's metadata, its request written and half-closed, settled by its final status. Nothing
 * of it reaches the caller: the interceptor decides what the caller sees once the policy is done.
 *
 * One object per attempt is the grpc-js listener of the call and its entry in the interceptor's
 * registry of attempts in flight (shared/inflight.ts: one timer for all), which cancels the call
 * on the wire when the attempt's timeout passes. The attempt's `signal` is not listened to per
 * attempt: on a policy that times its attempts itself it is an AbortController made per attempt,
 * and that with its listener cost more per call than the rest of the interceptor (bench/grpc.ts,
 * docs/grpc.md). The interceptor's own policy leaves the timing to this registry alone, and its
 * close() ends the attempts in flight through the one listener the interceptor keeps on the
 * policy's closing signal; a policy passed in races each attempt itself, and its close() ends an
 * attempt through the interceptor (the call fails, its attempt in flight is cancelled).
 */
import type { InflightAttempts, Tracked } from '../shared/inflight.js';
import type { GrpcCallLike, GrpcListenerLike, GrpcMetadataLike, GrpcStatusLike } from './grpc-types.js';
import { GrpcStatus } from './status-codes.js';

export interface UnaryAttemptResult {
  /** The response's initial metadata, when any arrived. */
  headers: GrpcMetadataLike | undefined;
  /** The (deserialized) response message, when one arrived. */
  message: unknown;
  status: GrpcStatusLike;
}

/** The marker grpc-js reports for an attempt hotcold cancelled itself (its timeout, the caller's cancel). */
export const ATTEMPT_CANCELLED_DETAILS = 'hotcold: attempt ended by the policy (timeout or cancel)';

/** Where an attempt's outcome goes: exactly one of these is called, once. */
export interface UnaryAttemptOwner {
  /** The call's final status arrived (OK or not) while the attempt was still open. */
  attemptAnswered(attempt: UnaryAttempt): void;
  /**
   * The attempt ended otherwise: its timeout passed or the interceptor ended it, and the call was
   * cancelled; or sending it threw.
   */
  attemptEnded(attempt: UnaryAttempt, reason: unknown): void;
  /** The policy is done and this attempt's answer is the call's: the caller gets it. */
  deliver(result: UnaryAttemptResult): void;
}

/**
 * A running attempt. {@link start} sends it; the owner hears of its end exactly once, and the
 * attempt leaves the registry then.
 */
export class UnaryAttempt implements GrpcListenerLike, Tracked, UnaryAttemptResult {
  // Declared and set in the constructor: one of these is made per attempt (see pipeline.ts's CallContext).
  declare headers: GrpcMetadataLike | undefined;
  declare message: unknown;
  declare status: GrpcStatusLike;
  /** The owner heard of this attempt's end. */
  declare settled: boolean;
  /** The attempt's promise (the owner settles it). */
  declare resolve: (value: UnaryAttemptResult) => void;
  declare reject: (reason: unknown) => void;
  /** Monotonic ms at which the attempt times out (`Infinity`: never). */
  declare readonly expiresAt: number;
  /** Ended from outside through the interceptor, not a signal (see the module's comment). */
  declare readonly signal: undefined;
  /** The registry's links (shared/inflight.ts). */
  declare inflightPrev: Tracked | undefined;
  declare inflightNext: Tracked | undefined;
  declare inflightLinked: boolean;
  declare private readonly timeoutMs: number;
  declare private readonly call: GrpcCallLike;
  declare readonly owner: UnaryAttemptOwner;
  declare private readonly inflight: InflightAttempts<UnaryAttempt>;

  constructor(owner: UnaryAttemptOwner, call: GrpcCallLike, inflight: InflightAttempts<UnaryAttempt>, sentAt: number, timeoutMs: number) {
    this.owner = owner;
    this.call = call;
    this.inflight = inflight;
    this.timeoutMs = timeoutMs;
    this.expiresAt = sentAt + timeoutMs;
    this.signal = undefined;
    this.headers = undefined;
    this.message = undefined;
    this.status = NO_STATUS;
    this.settled = false;
    this.resolve = NOT_YET;
    this.reject = NOT_YET;
    this.inflightPrev = undefined;
    this.inflightNext = undefined;
    this.inflightLinked = false;
  }

  /** Sends the attempt. */
  start(metadata: GrpcMetadataLike, request: unknown): void {
    this.inflight.add(this);
    const call = this.call;
    try {
      call.start(metadata, this);
      call.sendMessageWithContext({}, request);
      call.halfClose();
    } catch (error) {
      if (this.settled) return;
      this.settled = true;
      this.inflight.delete(this);
      this.owner.attemptEnded(this, error);
    }
  }

  onReceiveMetadata(received: GrpcMetadataLike): void {
    this.headers = received;
  }

  onReceiveMessage(received: unknown): void {
    this.message = received;
  }

  onReceiveStatus(status: GrpcStatusLike): void {
    if (this.settled) return;
    this.settled = true;
    this.status = status;
    this.inflight.delete(this);
    this.owner.attemptAnswered(this);
  }

  /**
   * The timeout passed: the call is cancelled (its own status then arrives and is ignored). The
   * error is the one the policy's own timer ends the attempt with, so whichever of the two timers
   * fires first (they are due at the same ms), the attempt's outcome is the same.
   */
  expire(): void {
    this.end(new DOMException(`attempt timed out after ${Math.round(this.timeoutMs)} ms`, 'TimeoutError'));
  }

  /** Ends the attempt from outside (the policy gave up on it, or closed): the call is cancelled. */
  abort(reason: unknown): void {
    this.end(reason);
  }

  private end(reason: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.inflight.delete(this);
    this.call.cancelWithStatus(GrpcStatus.CANCELLED, ATTEMPT_CANCELLED_DETAILS);
    this.owner.attemptEnded(this, reason);
  }
}

function NOT_YET(): void {}

/** The status field's value until the status arrives (read only after it did). */
const NO_STATUS: GrpcStatusLike = Object.freeze({ code: GrpcStatus.UNKNOWN, details: '', metadata: undefined as unknown as GrpcMetadataLike });
