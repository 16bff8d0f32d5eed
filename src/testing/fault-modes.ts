/**
 * What the fault server can do to one RPC request, and the canned bodies it answers with.
 * Kept apart from the server so tests can name modes without pulling in `node:http`.
 */
import type { JsonRpcId, NodeStatus } from '../wire.js';

/** Every way the fault server can treat one RPC request (see {@link FaultServer.setMode}). */
export type FaultModeName =
  /** Answer normally (the handler's result, or an echo of `{ method, params }`). */
  | 'ok'
  /** Connection refused: the listener is closed (global mode only, see `setMode`). */
  | 'refuse'
  /** Accept the TCP connection and reset it before reading anything. */
  | 'reset-on-accept'
  /** Read the whole request, then reset without answering. */
  | 'reset-after-request'
  /**
   * HAProxy-like `503` HTML page, no node headers, marked `X-Hotcold-Not-Forwarded: 1` as the
   * shipped balancer configs mark their own answer: no backend to send to, nothing forwarded.
   */
  | 'balancer-503'
  /**
   * Envoy/Istio's `503` text/plain "upstream connect error or disconnect/reset before headers"
   * after the request was forwarded and the upstream connection broke: no node headers, no mark.
   */
  | 'proxy-503'
  /** A node's `503 {"error":"NOT_ACTIVE"}` with node headers and `Retry-After`. */
  | 'not-active'
  /** Balancer-like `502` HTML, no node headers. */
  | '502'
  /** Balancer-like `504` HTML, no node headers. */
  | '504'
  /** Read the request and never answer. */
  | 'stall'
  /** Send status and headers (with a Content-Length), then nothing. */
  | 'headers-then-silence'
  /** Send a valid answer one byte every `intervalMs`. */
  | 'trickle'
  /** Content-Length larger than the body, then end the socket. */
  | 'truncated'
  /** A body that is not JSON. */
  | 'garbage'
  /** JSON that is not a JSON-RPC response. */
  | 'not-jsonrpc'
  /** A JSON-RPC response for another id. */
  | 'id-mismatch'
  /** A valid JSON-RPC response of `bytes` bytes. */
  | 'huge'
  /** A JSON-RPC error object (`code`, `message`, `data`). */
  | 'rpc-error'
  /** `401` with `WWW-Authenticate`. */
  | 'unauthorized'
  /** `403`. */
  | 'forbidden'
  /** Exactly `status`, `headers` and `body` as given (for fuzzing). */
  | 'raw';

/** A mode with its parameters; every field but `mode` is optional and ignored where it means nothing. */
export interface FaultSpec {
  /** Which fault. */
  mode: FaultModeName;
  /** `ok`: wait this long before answering. */
  delayMs?: number;
  /**
   * `trickle`: milliseconds between bytes.
   * @default 50
   */
  intervalMs?: number;
  /**
   * `huge`: total body size in bytes.
   * @default 11534336 (11 MiB)
   */
  bytes?: number;
  /** `huge`: stream it chunked, with no Content-Length to judge it by in advance. */
  chunked?: boolean;
  /** `rpc-error`: the JSON-RPC error (defaults -32000, 'fault server error', `{ fault: true }`). */
  code?: number;
  /** `rpc-error`: the error's message. */
  message?: string;
  /** `rpc-error`: the error's `data`. */
  data?: unknown;
  /** `garbage`/`raw`: the body to send. */
  body?: string | Uint8Array;
  /**
   * `raw`: the status.
   * @default 200
   */
  status?: number;
  /** `raw`: extra headers. */
  headers?: Record<string, string>;
  /**
   * `raw`: whether to add the node headers.
   * @default true
   */
  nodeHeaders?: boolean;
  /** `not-active`/`balancer-503`: the `Retry-After` value (`not-active` defaults to '1'). */
  retryAfter?: string;
  /**
   * `not-active`: the status reported in the body.
   * @default 'standby'
   */
  status503?: NodeStatus;
  /**
   * For the modes where a test must decide whether the handler ran before the answer was lost
   * (`reset-after-request`, `stall`, `headers-then-silence`, `trickle`, `truncated`, `502`,
   * `504`, `proxy-503`): run the handler first (`true`) or not. Defaults: `true`, except `502`/`504` (`false`).
   */
  executed?: boolean;
}

/** A fault by name, or with its parameters. */
export type FaultMode = FaultModeName | FaultSpec;

/** Modes that act on the connection before any request is read. */
export const CONNECTION_MODES: ReadonlySet<FaultModeName> = new Set(['refuse', 'reset-on-accept']);

/** Modes that never run the handler, whatever `executed` says. */
export const NEVER_EXECUTED: ReadonlySet<FaultModeName> = new Set([
  'refuse',
  'reset-on-accept',
  'balancer-503',
  'not-active',
  'unauthorized',
  'forbidden',
]);

/** Modes whose execution a test chooses with `executed`, and their default. */
export const EXECUTION_DEFAULTS: ReadonlyMap<FaultModeName, boolean> = new Map([
  ['reset-after-request', true],
  ['stall', true],
  ['headers-then-silence', true],
  ['trickle', true],
  ['truncated', true],
  ['502', false],
  ['504', false],
  ['proxy-503', true],
]);

/** Every {@link FaultModeName}, e.g. to run a test over each. */
export const ALL_FAULT_MODES: readonly FaultModeName[] = [
  'ok',
  'refuse',
  'reset-on-accept',
  'reset-after-request',
  'balancer-503',
  'proxy-503',
  'not-active',
  '502',
  '504',
  'stall',
  'headers-then-silence',
  'trickle',
  'truncated',
  'garbage',
  'not-jsonrpc',
  'id-mismatch',
  'huge',
  'rpc-error',
  'unauthorized',
  'forbidden',
  'raw',
];

/** The HAProxy-like page of the `balancer-503` mode (and of the dev balancer with no backend). */
export const BALANCER_503_BODY =
  '<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n';
/** Envoy's text of the `proxy-503` mode. */
export const PROXY_503_BODY = 'upstream connect error or disconnect/reset before headers. reset reason: connection termination';
/** The HAProxy-like page of the `502` mode (and of the dev balancer). */
export const BALANCER_502_BODY =
  '<html><body><h1>502 Bad Gateway</h1>\nThe server returned an invalid or incomplete response.\n</body></html>\n';
/** The HAProxy-like page of the `504` mode (and of the dev balancer). */
export const BALANCER_504_BODY =
  '<html><body><h1>504 Gateway Time-out</h1>\nThe server didn\'t respond in time.\n</body></html>\n';

export function toSpec(mode: FaultMode): FaultSpec {
  return typeof mode === 'string' ? { mode } : mode;
}

/** An id that is certainly not `id`. */
export function otherId(id: JsonRpcId | null | undefined): JsonRpcId {
  if (typeof id === 'number') return id + 1;
  if (typeof id === 'string') return `${id}-other`;
  return 1;
}
