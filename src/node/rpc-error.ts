import { JSONRPC_INVALID_PARAMS } from '../wire.js';

/**
 * Throw from a handler to answer a specific JSON-RPC error. Anything else a handler throws is
 * answered as `-32603 internal error` without its message (which may hold data the caller must
 * not see). The handler's transaction is rolled back either way.
 */
export class RpcError extends Error {
  /** The JSON-RPC error code answered (an integer; -32602 for invalid params, your own codes otherwise). */
  readonly code: number;
  /** The JSON-RPC error's `data` member, sent to the caller as given (`undefined` omits it). */
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    if (!Number.isSafeInteger(code)) throw new TypeError('RpcError code must be an integer');
    this.name = 'RpcError';
    this.code = code;
    this.data = data;
  }
}

/** `-32602 invalid params`, for handlers that validate their input. */
export function invalidParams(message: string, data?: unknown): RpcError {
  return new RpcError(JSONRPC_INVALID_PARAMS, message, data);
}
