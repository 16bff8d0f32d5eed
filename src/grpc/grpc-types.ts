/**
 * The few shapes of `@grpc/grpc-js` that `hotcold/grpc` touches, written structurally so that the
 * published `.d.ts` compiles without `@grpc/grpc-js` installed (an optional peer dependency).
 * grpc-js's own classes (`Metadata`, `InterceptingCall`, `Client`, `StatusObject`) satisfy them.
 */

/** A metadata value: text, or binary for keys ending in `-bin`. */
export type GrpcMetadataValue = string | Uint8Array;

/** grpc-js `Metadata`, as far as hotcold reads and writes it. */
export interface GrpcMetadataLike {
  get(key: string): GrpcMetadataValue[];
  set(key: string, value: GrpcMetadataValue): void;
  clone(): GrpcMetadataLike;
}

/** grpc-js `StatusObject`: a call's final status. */
export interface GrpcStatusLike {
  /** The gRPC status code (0 = OK; see {@link GrpcStatus}). */
  code: number;
  details: string;
  metadata: GrpcMetadataLike;
}

/** grpc-js `InterceptingListener`: what a call reports back. */
export interface GrpcListenerLike {
  onReceiveMetadata(metadata: GrpcMetadataLike): void;
  onReceiveMessage(message: unknown): void;
  onReceiveStatus(status: GrpcStatusLike): void;
}

/** grpc-js `InterceptingCallInterface`, the call one level down the interceptor chain. */
export interface GrpcCallLike {
  start(metadata: GrpcMetadataLike, listener?: Partial<GrpcListenerLike>): void;
  sendMessageWithContext(context: { flags?: number }, message: unknown): void;
  halfClose(): void;
  cancelWithStatus(code: number, details: string): void;
  getPeer(): string;
}

/** grpc-js `InterceptorOptions`: the call options an interceptor receives. */
export interface GrpcInterceptorOptionsLike {
  method_definition: { path: string; requestStream: boolean; responseStream: boolean };
  /** The caller's deadline: a `Date`, or ms since the epoch (`Infinity`: none). */
  deadline?: Date | number | undefined;
}

/** A grpc-js `Client` (any generated client): hotcold uses its channel for health probes. */
export interface GrpcClientLike {
  getChannel(): object;
}
