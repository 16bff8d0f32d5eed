/**
 * One attempt of a unary call: a fresh call one level down the interceptor chain, started with the
 * attempt's metadata, its request written and half-closed, settled by its final status. Nothing
 * of it reaches the caller: the interceptor decides what the caller sees once the policy is done.
 *
 * One object per attempt is the grpc-js listener of the call and the `abort` listener of the
 * attempt's signal (`handleEvent`), so an attempt allocates no closure of its own besides its
 * promise's executor: on the success path every allocation is per call, and grpc-js's own per-call
 * cost is what a hotcold call is measured against (bench/grpc.ts).
 */
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
   * The attempt ended otherwise: its signal aborted first (its timeout, the policy's close) and
   * the call was cancelled, or sending it threw.
   */
  attemptEnded(attempt: UnaryAttempt, reason: unknown): void;
}

/**
 * A running attempt. {@link start} sends it; the owner hears of its end exactly once, and the
 * attempt stops listening to its signal then.
 */
export class UnaryAttempt implements GrpcListenerLike, UnaryAttemptResult {
  // Declared and set in the constructor: one of these is made per attempt (see pipeline.ts's CallContext).
  declare headers: GrpcMetadataLike | undefined;
  declare message: unknown;
  declare status: GrpcStatusLike;
  /** The owner heard of this attempt's end. */
  declare settled: boolean;
  /** The attempt's promise (the owner settles it). */
  declare resolve: (value: UnaryAttemptResult) => void;
  declare reject: (reason: unknown) => void;
  declare private readonly call: GrpcCallLike;
  declare private readonly signal: AbortSignal;
  declare private readonly owner: UnaryAttemptOwner;

  constructor(owner: UnaryAttemptOwner, call: GrpcCallLike, signal: AbortSignal) {
    this.owner = owner;
    this.call = call;
    this.signal = signal;
    this.headers = undefined;
    this.message = undefined;
    this.status = NO_STATUS;
    this.settled = false;
    this.resolve = NOT_YET;
    this.reject = NOT_YET;
  }

  /**
   * Sends the attempt. When its signal has already aborted nothing is sent and the owner hears
   * `attemptEnded` at once.
   */
  start(metadata: GrpcMetadataLike, request: unknown): void {
    const signal = this.signal;
    if (signal.aborted) {
      this.settled = true;
      this.owner.attemptEnded(this, signal.reason);
      return;
    }
    signal.addEventListener('abort', this);
    const call = this.call;
    try {
      call.start(metadata, this);
      call.sendMessageWithContext({}, request);
      call.halfClose();
    } catch (error) {
      if (this.settled) return;
      this.settled = true;
      signal.removeEventListener('abort', this);
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
    this.signal.removeEventListener('abort', this);
    this.owner.attemptAnswered(this);
  }

  /** The signal aborted: the call is cancelled (its own status then arrives and is ignored). */
  handleEvent(): void {
    if (this.settled) return;
    this.settled = true;
    this.call.cancelWithStatus(GrpcStatus.CANCELLED, ATTEMPT_CANCELLED_DETAILS);
    this.owner.attemptEnded(this, this.signal.reason);
  }
}

function NOT_YET(): void {}

/** The status field's value until the status arrives (read only after it did). */
const NO_STATUS: GrpcStatusLike = Object.freeze({ code: GrpcStatus.UNKNOWN, details: '', metadata: undefined as unknown as GrpcMetadataLike });
