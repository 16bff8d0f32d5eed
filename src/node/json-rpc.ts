import type { JsonRpcErrorObject, JsonRpcId, JsonRpcResponse } from '../wire.js';
import { JSONRPC_INVALID_REQUEST, JSONRPC_PARSE_ERROR } from '../wire.js';

/** A parsed single JSON-RPC request, or the error answer it deserves. */
export type ParsedRequest =
  | { ok: true; id: JsonRpcId | null; notification: boolean; method: string; params: unknown }
  | { ok: false; response: JsonRpcResponse };

export function errorResponse(id: JsonRpcId | null, error: JsonRpcErrorObject): JsonRpcResponse {
  return { jsonrpc: '2.0', id, error: error.data === undefined ? { code: error.code, message: error.message } : error };
}

export function resultResponse(id: JsonRpcId | null, result: unknown): JsonRpcResponse {
  return { jsonrpc: '2.0', id, result: result === undefined ? null : result };
}

function validId(value: unknown): value is JsonRpcId | null {
  return value === null || typeof value === 'string' || (typeof value === 'number' && Number.isFinite(value));
}

export function parseRequest(body: string): ParsedRequest {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch {
    return { ok: false, response: errorResponse(null, { code: JSONRPC_PARSE_ERROR, message: 'parse error' }) };
  }
  if (Array.isArray(value)) {
    // Batches would need one transaction (and one idempotency key) per member; not offered.
    return {
      ok: false,
      response: errorResponse(null, { code: JSONRPC_INVALID_REQUEST, message: 'batch requests are not supported by this node' }),
    };
  }
  if (typeof value !== 'object' || value === null) {
    return { ok: false, response: errorResponse(null, { code: JSONRPC_INVALID_REQUEST, message: 'invalid request' }) };
  }
  const request = value as Record<string, unknown>;
  const hasId = Object.hasOwn(request, 'id');
  const id = hasId && validId(request.id) ? request.id : null;
  if (request.jsonrpc !== '2.0' || typeof request.method !== 'string' || request.method.length === 0 || (hasId && !validId(request.id))) {
    return { ok: false, response: errorResponse(id, { code: JSONRPC_INVALID_REQUEST, message: 'invalid request' }) };
  }
  const params = request.params;
  if (params !== undefined && (typeof params !== 'object' || params === null)) {
    return { ok: false, response: errorResponse(id, { code: JSONRPC_INVALID_REQUEST, message: 'params must be an object or an array' }) };
  }
  return { ok: true, id, notification: !hasId, method: request.method, params };
}
