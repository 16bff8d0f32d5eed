/**
 * One attempt of a unary call: a fresh call one level down the interceptor chain, started with the
 * attempt's metadata, its request written and half-closed, settled by its final status. Nothing
 * of it reaches the caller: the interceptor decides what the caller sees once the policy is done.
 */
import type { GrpcCallLike, GrpcMetadataLike, GrpcStatusLike } from './grpc-types.js';
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

/**
 * Runs the attempt. Resolves with the final status (OK or not); rejects with `signal.reason`
 * when the signal aborts first, after cancelling the call.
 */
export function runUnaryAttempt(call: GrpcCallLike, metadata: GrpcMetadataLike, message: unknown, signal: AbortSignal): Promise<UnaryAttemptResult> {
  return new Promise<UnaryAttemptResult>((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    let headers: GrpcMetadataLike | undefined;
    let response: unknown;
    let settled = false;
    const onAbort = (): void => {
      if (settled) return;
      settled = true;
      call.cancelWithStatus(GrpcStatus.CANCELLED, ATTEMPT_CANCELLED_DETAILS);
      reject(signal.reason);
    };
    signal.addEventListener('abort', onAbort, { once: true });
    call.start(metadata, {
      onReceiveMetadata(received) {
        headers = received;
      },
      onReceiveMessage(received) {
        response = received;
      },
      onReceiveStatus(status) {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        resolve({ headers, message: response, status });
      },
    });
    call.sendMessageWithContext({}, message);
    call.halfClose();
  });
}
