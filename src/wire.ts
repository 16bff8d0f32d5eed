/**
 * The wire contract between client and node (DESIGN §1). Header names are lower-case, as Node
 * reports them.
 */
export const HEADER_IDEMPOTENCY_KEY = 'idempotency-key';
export const HEADER_ATTEMPT = 'x-hotcold-attempt';
export const HEADER_NODE = 'x-hotcold-node';
export const HEADER_EPOCH = 'x-hotcold-epoch';
export const HEADER_DEDUP = 'x-hotcold-dedup';
/**
 * Set (value `1`) by a balancer on its OWN answer when it forwarded nothing (no server, queue
 * timeout, every connect failed): with a node's own answer and a request never fully written, the
 * only evidence of "not executed" a client may trust in a 5xx (DESIGN §1).
 */
export const HEADER_NOT_FORWARDED = 'x-hotcold-not-forwarded';
/** Request header: milliseconds left of the caller's deadline when the attempt was sent (relative, like `grpc-timeout`). */
export const HEADER_TIMEOUT_MS = 'x-hotcold-timeout-ms';

/**
 * The request headers hotcold itself sets on every attempt of a call (DESIGN §1), lower-case:
 * the call's `Idempotency-Key`, the attempt's number and what is left of the call's deadline.
 * A header of the same name (in any case) among a client's or transport's configured `headers`
 * would either be dropped without a word or, worse, reach the node in place of the call's own
 * value (a fixed `X-Hotcold-Timeout-Ms` lets a node start calls nobody waits for any more), so
 * it is refused at construction with a `ConfigurationError` naming `headers.<name>`.
 */
export const CLIENT_SET_HEADERS: ReadonlySet<string> = new Set([HEADER_IDEMPOTENCY_KEY, HEADER_ATTEMPT, HEADER_TIMEOUT_MS]);

/** Whether `name` (any case) is one of the {@link CLIENT_SET_HEADERS}. */
export function isClientSetHeader(name: string): boolean {
  return CLIENT_SET_HEADERS.has(name.toLowerCase());
}

export const MAX_IDEMPOTENCY_KEY_LENGTH = 200;
export const DEFAULT_RPC_PATH = '/rpc';
export const DEFAULT_HEALTH_PATH = '/health';

/**
 * The `error` of a node's own `503` (with node headers) that states the call was NOT executed:
 * not holding the lease, rolled back before commit, or the caller's time already spent.
 */
export const NOT_EXECUTED_ERRORS: ReadonlySet<string> = new Set(['NOT_ACTIVE', 'NOT_EXECUTED', 'EXPIRED']);
/** The `error` of a node's `500` when the commit's fate is unknown (connection lost during COMMIT): maybe. */
export const COMMIT_UNKNOWN_ERROR = 'COMMIT_UNKNOWN';

/** Body of a node's `503` while it does not hold the lease: the request was not executed. */
export interface NotActiveBody {
  error: 'NOT_ACTIVE';
  status: NodeStatus;
  node: string;
  /** The fencing token of the current holder, when known. */
  epoch?: number;
  message?: string;
}

/**
 * A node's status on the wire: `active` (holds the lease and serves), `standby` (does not hold
 * it), `draining` (stopping: finishes running calls, takes no new ones), `lost` (its lease ended).
 */
export type NodeStatus = 'active' | 'standby' | 'draining' | 'lost';

/** Body of `GET /health` (DESIGN §1): `200` only with `status: 'active'`, `503` otherwise. */
export interface HealthBody {
  /** The node's status. */
  status: NodeStatus;
  /** The node's machine name. */
  node: string;
  /** The fencing token of the lease term it serves (or last served), when it has one. */
  epoch?: number;
}

/** A JSON-RPC 2.0 request id. */
export type JsonRpcId = string | number;

export interface JsonRpcRequest {
  jsonrpc: '2.0';
  id?: JsonRpcId | null;
  method: string;
  params?: unknown;
}

export interface JsonRpcErrorObject {
  code: number;
  message: string;
  data?: unknown;
}

export type JsonRpcResponse =
  | { jsonrpc: '2.0'; id: JsonRpcId | null; result: unknown }
  | { jsonrpc: '2.0'; id: JsonRpcId | null; error: JsonRpcErrorObject };

/** JSON-RPC 2.0 reserved codes, plus the ones hotcold nodes use. */
export const JSONRPC_PARSE_ERROR = -32700;
export const JSONRPC_INVALID_REQUEST = -32600;
export const JSONRPC_METHOD_NOT_FOUND = -32601;
export const JSONRPC_INVALID_PARAMS = -32602;
export const JSONRPC_INTERNAL_ERROR = -32603;
/** The node lost the lease while the handler ran; its transaction was rolled back. */
export const HOTCOLD_LEASE_LOST = -32001;
/** The idempotency key was reused with a different method or params, or by another caller. */
export const HOTCOLD_KEY_CONFLICT = -32002;

/** The method a client uses to read a resumable feed (DESIGN: `client.feed`). */
export const FEED_METHOD = 'hotcold.feed';
