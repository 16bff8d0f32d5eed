import type { HealthBody } from '../wire.js';

/** One attempt of one call, as the pipeline hands it to a transport. */
export interface TransportRequest {
  /** Base URL of the backend (balancer or pool member), without the RPC path. */
  baseUrl: string;
  /** The JSON-RPC method name. */
  method: string;
  /** The JSON-RPC params (sent as given; `undefined` omits them). */
  params: unknown;
  /** JSON-RPC id for this attempt. */
  id: number | string;
  /** The same on every attempt of one logical call. */
  idempotencyKey: string;
  /** 1-based attempt number, sent as `X-Hotcold-Attempt`. */
  attempt: number;
  /** Per-attempt timeout: the remainder of the whole-call deadline, capped by the method's timeout. */
  timeoutMs: number;
  /**
   * Milliseconds left of the whole call's deadline when this attempt is sent, sent as
   * `X-Hotcold-Timeout-Ms` (relative, like gRPC's `grpc-timeout`). Default: `timeoutMs`.
   */
  deadlineLeftMs?: number | undefined;
  /**
   * Aborts the attempt: the caller's signal, `close()`, or the attempt's timeout. A transport
   * must end its attempt when it aborts (rejecting with the signal's reason or an error of its own,
   * such as node:http's AbortError: once the signal aborted, the attempt ends for its reason) or by
   * `timeoutMs` itself: the client does not race a transport's attempts. Made when first read (a getter, not an own
   * property: a spread copy of the request does not carry it).
   */
  signal?: AbortSignal | undefined;
}

/** What a successful attempt returns: the JSON-RPC result and the node identity it came from. */
export interface TransportResponse {
  /** The JSON-RPC `result` member of the answer. */
  result: unknown;
  /** The HTTP status of the answer (200 for a JSON-RPC result). */
  status: number;
  /** `X-Hotcold-Node`, when the answer came from a hotcold node. */
  node?: string | undefined;
  /** `X-Hotcold-Epoch` (the node's fencing token). */
  epoch?: number | undefined;
  /** `X-Hotcold-Dedup: 1` was present: the node deduplicates by `Idempotency-Key`. */
  dedup: boolean;
}

/** One health probe's answer (`GET <healthPath>`, DESIGN §1). */
export interface HealthResult {
  /** `true` for a 2xx answer whose JSON body, if any, says `status: "active"`: a node is serving. */
  ok: boolean;
  /** The HTTP status of the answer. */
  status: number;
  /** The parsed body, when it was the health JSON of DESIGN §1. */
  body?: HealthBody | undefined;
  /** `X-Hotcold-Node` (or the body's `node`), when present. */
  node?: string | undefined;
  /** `X-Hotcold-Epoch` (or the body's `epoch`), the node's fencing token. */
  epoch?: number | undefined;
  /** `X-Hotcold-Dedup: 1` on the health answer: the node deduplicates in this term. */
  dedup?: boolean | undefined;
  /** `Retry-After` of a `429` answer, in ms (back-pressure: probes honour it too). */
  retryAfterMs?: number | undefined;
}

/**
 * Moves one JSON-RPC attempt over the wire. A transport never retries; every failure it throws
 * is an `RPCException` subclass (see `classify`), carrying `node`/`epoch` when the answer had
 * them, so the pipeline can decide on retry without looking at transport details.
 */
export interface Transport {
  /**
   * Sends one attempt; resolves with the JSON-RPC result, rejects with an `RPCException` subclass.
   * @throws {RPCException} `ConnectionFailureException`, `UnknownOutcomeException`,
   * `RemoteCallException`, `AuthenticationException`, `ProtocolException`,
   * `CallAbortedException` or `ClientClosedException`, each saying whether it may have run.
   */
  send(request: TransportRequest): Promise<TransportResponse>;
  /** `GET <baseUrl><healthPath>`; resolves for any HTTP answer, rejects on connection failure. */
  health(baseUrl: string, options: { timeoutMs: number; signal?: AbortSignal | undefined }): Promise<HealthResult>;
  /** Ends keep-alive sockets the transport owns (not a user-supplied axios instance's). */
  close(): Promise<void>;
}
