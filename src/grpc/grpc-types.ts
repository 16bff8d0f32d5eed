/**
 * The few shapes of `@grpc/grpc-js` that `hotcold/grpc` touches, written structurally so that the
 * published `.d.ts` compiles without `@grpc/grpc-js` installed (an optional peer dependency).
 * grpc-js's own classes (`Metadata`, `InterceptingCall`, `Client`, `StatusObject`) satisfy them.
 */

/** A metadata value: text, or binary for keys ending in `-bin`. */
export type GrpcMetadataValue = string | Uint8Array;

/** grpc-js `Metadata`, as far as hotcold reads and writes it. */
export interface GrpcMetadataLike {
  /** Every value of `key` (empty when absent). */
  get(key: string): GrpcMetadataValue[];
  /** Replaces the values of `key` with `value`. */
  set(key: string, value: GrpcMetadataValue): void;
  /** A copy, so that each attempt sends its own metadata. */
  clone(): GrpcMetadataLike;
  /** The first value of each key (grpc-js has it; read for the call's credentials, see metadata-secrets.ts). */
  getMap?(): Record<string, GrpcMetadataValue>;
}

/** grpc-js `StatusObject`: a call's final status. */
export interface GrpcStatusLike {
  /** The gRPC status code (0 = OK; see {@link GrpcStatus}). */
  code: number;
  /** The status message. */
  details: string;
  /** The trailers (where hotcold nodes put `x-hotcold-node` / `x-hotcold-epoch`). */
  metadata: GrpcMetadataLike;
}

/** grpc-js `InterceptingListener`: what a call reports back. */
export interface GrpcListenerLike {
  /** The response headers arrived. */
  onReceiveMetadata(metadata: GrpcMetadataLike): void;
  /** A response message arrived. */
  onReceiveMessage(message: unknown): void;
  /** The call ended with this status. */
  onReceiveStatus(status: GrpcStatusLike): void;
}

/** grpc-js `InterceptingCallInterface`, the call one level down the interceptor chain. */
export interface GrpcCallLike {
  /** Starts the call with its request metadata. */
  start(metadata: GrpcMetadataLike, listener?: Partial<GrpcListenerLike>): void;
  /** Sends the request message. */
  sendMessageWithContext(context: { flags?: number }, message: unknown): void;
  /** No more request messages. */
  halfClose(): void;
  /** Cancels the call locally with this status. */
  cancelWithStatus(code: number, details: string): void;
  /** The server's address, once connected. */
  getPeer(): string;
  /** The transport's auth context (TLS peer certificate), once connected; grpc-js ≥ 1.12. */
  getAuthContext?(): unknown;
}

/** grpc-js `InterceptorOptions`: the call options an interceptor receives. */
export interface GrpcInterceptorOptionsLike {
  /** The method being called. */
  method_definition: {
    /** `/package.Service/Method`. */
    path: string;
    /** Client streaming (hotcold's policy applies to unary calls only). */
    requestStream: boolean;
    /** Server streaming. */
    responseStream: boolean;
  };
  /** The caller's deadline: a `Date`, or ms since the epoch (`Infinity`: none). */
  deadline?: Date | number | undefined;
  /** The server call this call is made for (grpc-js `parent`); with DEADLINE propagation its deadline bounds this call's. */
  parent?: GrpcParentCallLike | null | undefined;
  /** grpc-js `propagate_flags` (`grpc.propagate`): what this call takes from `parent`. @default grpc.propagate.DEFAULTS (with a parent) */
  propagate_flags?: number | undefined;
}

/**
 * A grpc-js server call (`ServerSurfaceCall`) as a client call's `parent`: hotcold reads its
 * deadline, and with CANCELLATION propagation hears of its cancellation.
 */
export interface GrpcParentCallLike {
  /** The server call's deadline: a `Date`, or ms since the epoch (`Infinity`: none). */
  getDeadline(): Date | number;
  /** The server call was cancelled (its client gave up, or it ended): grpc-js `ServerSurfaceCall.cancelled`. */
  readonly cancelled?: boolean;
  /** grpc-js's server calls are EventEmitters: hotcold listens for `'cancelled'` while the call runs. */
  on?(event: 'cancelled', listener: () => void): unknown;
  /** Removes the `'cancelled'` listener when the call ends. */
  removeListener?(event: 'cancelled', listener: () => void): unknown;
}

/** A grpc-js `Client` (any generated client): hotcold uses its channel for health probes. */
export interface GrpcClientLike {
  /** The client's channel (grpc-js `Channel`). */
  getChannel(): object;
}
