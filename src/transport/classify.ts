/**
 * The failure classification of DESIGN §2, as one pure function over what was observed on the
 * wire during an attempt. It never throws and never inspects error codes to decide whether the
 * request was sent: the caller reports `written` from the request object itself.
 *
 * Complete answers (status line, headers and whole body received):
 *
 * | answer                                                         | class                  | ran?  |
 * | -------------------------------------------------------------- | ---------------------- | ----- |
 * | 401, 403 (any body)                                            | Authentication         | no    |
 * | JSON-RPC response, matching id, `result`, 2xx                  | success                | yes   |
 * | JSON-RPC response, matching id (or null), `error`, any status  | RemoteCall             | yes   |
 * | JSON-RPC response with another id                              | Protocol               | maybe |
 * | JSON-RPC `result` with a non-2xx status                        | Protocol               | maybe |
 * | 503 with node headers, body `{"error":"NOT_ACTIVE"}`          | ConnectionFailure (+Retry-After) | no |
 * | 503 with node headers, body `{"error":"NOT_EXECUTED"|"EXPIRED"}` | ConnectionFailure (+Retry-After) | no |
 * | 503 with node headers, any other body                          | UnknownOutcome         | maybe |
 * | 500 with node headers, body `{"error":"COMMIT_UNKNOWN"}`       | UnknownOutcome         | maybe |
 * | 5xx without node headers, marked `X-Hotcold-Not-Forwarded: 1`  | ConnectionFailure (+Retry-After) | no |
 * | any other 5xx without node headers (Envoy's 503 after a reset, |                        |       |
 * |   an app server's own 503, nginx 502, 504: may have been forwarded) | UnknownOutcome    | maybe |
 * | 429, with or without node headers (RFC 6585: refused)          | ConnectionFailure, backPressure (+Retry-After) | no |
 * | 2xx that is not JSON / not JSON-RPC                            | Protocol               | maybe |
 * | 3xx (redirects are not followed: a POST must not be replayed)  | Protocol               | maybe |
 * | other 4xx (400, 404, 408, 413, …) without a JSON-RPC body      | Protocol               | maybe |
 * | 1xx or outside 100–599                                         | Protocol               | maybe |
 *
 * The rule behind the 5xx rows: "not executed" is said only on evidence the client can trust
 * (DESIGN §1). A header-less 503 proves nothing — Envoy and Istio answer `503 upstream connect
 * error or disconnect/reset before headers` after they forwarded the call, app servers send their
 * own 503s — so only a node's own answer or the balancer's explicit not-forwarded mark count.
 *
 * Attempts that ended without a complete answer:
 *
 * | what happened                                                  | class                  | ran?  |
 * | -------------------------------------------------------------- | ---------------------- | ----- |
 * | socket error / timeout before the request was fully written    | ConnectionFailure      | no    |
 * | socket error / close after it was written, no response yet     | UnknownOutcome         | maybe |
 * | timeout after it was written                                   | UnknownOutcome         | maybe |
 * | socket error / close after the response began (truncated body) | Protocol               | maybe |
 * | body over `maxResponseBytes`                                   | Protocol               | maybe |
 * | caller's signal aborted                                        | CallAborted            | = written |
 * | params could not be serialized (nothing sent)                  | Protocol               | no    |
 */
import {
  AuthenticationException,
  CallAbortedException,
  ConnectionFailureException,
  ProtocolException,
  RemoteCallException,
  UnknownOutcomeException,
  type RPCException,
} from '../errors.js';
import { COMMIT_UNKNOWN_ERROR, NOT_EXECUTED_ERRORS, type JsonRpcId } from '../wire.js';
import { parseRetryAfter } from './retry-after.js';
import type { TransportResponse } from './types.js';

/** The hotcold headers of an answer, raw as received (first value when repeated). */
export interface AnswerHeaders {
  node?: string | undefined;
  epoch?: string | undefined;
  retryAfter?: string | undefined;
  dedup?: string | undefined;
  /** `X-Hotcold-Not-Forwarded`: the balancer's own answer, nothing was forwarded (only `1` counts). */
  notForwarded?: string | undefined;
}

/** A complete HTTP answer. */
export interface AnswerFacts {
  kind: 'answer';
  status: number;
  headers: AnswerHeaders;
  body: string;
}

export type FailureReason =
  /** The per-attempt timeout elapsed. */
  | 'timeout'
  /** The caller's signal aborted. */
  | 'aborted'
  /** A socket error or close (refused, reset, TLS, DNS, premature end). */
  | 'network'
  /** The body exceeded `maxResponseBytes`. */
  | 'too-large'
  /** The request body could not be produced (e.g. params not JSON-serializable). */
  | 'unserializable';

/** An attempt that ended without a complete answer. */
export interface FailureFacts {
  kind: 'failure';
  reason: FailureReason;
  /** The request may have reached the server: it was fully handed to a connected socket. */
  written: boolean;
  /** The status line and headers had arrived. */
  responseStarted: boolean;
  status?: number | undefined;
  headers?: AnswerHeaders | undefined;
  cause?: unknown;
}

export type AttemptFacts = AnswerFacts | FailureFacts;

export interface ClassifyContext {
  method: string;
  id: JsonRpcId;
  /** Attempt number, reported as `attempts` on the error. */
  attempt?: number | undefined;
  /** The per-attempt timeout, for messages. */
  timeoutMs?: number | undefined;
  /** Where the request went (already redacted), for messages. */
  target?: string | undefined;
  /** Clock for `Retry-After` dates. */
  now?: number | undefined;
}

export type Classified = { ok: true; response: TransportResponse } | { ok: false; error: RPCException };

const EPOCH = /^\d{1,15}$/;

export function parseEpoch(value: string | undefined): number | undefined {
  return value !== undefined && EPOCH.test(value) ? Number(value) : undefined;
}

function nodeOf(headers: AnswerHeaders | undefined): string | undefined {
  const node = headers?.node;
  return typeof node === 'string' && node.length > 0 ? node : undefined;
}

interface JsonRpcShape {
  id: unknown;
  result?: unknown;
  error?: unknown;
  hasResult: boolean;
  hasError: boolean;
}

/** The body as a JSON-RPC 2.0 response object, or undefined. */
function asJsonRpc(parsed: unknown): JsonRpcShape | undefined {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const o = parsed as Record<string, unknown>;
  if (o.jsonrpc !== '2.0' || !Object.hasOwn(o, 'id')) return undefined;
  const hasResult = Object.hasOwn(o, 'result');
  const hasError = Object.hasOwn(o, 'error');
  if (hasResult === hasError) return undefined;
  if (hasError) {
    const e = o.error;
    if (typeof e !== 'object' || e === null || Array.isArray(e)) return undefined;
    const err = e as Record<string, unknown>;
    if (typeof err.code !== 'number' || !Number.isInteger(err.code) || typeof err.message !== 'string') return undefined;
  }
  return { id: o.id, result: o.result, error: o.error, hasResult, hasError };
}

function parseJson(body: string): unknown {
  // A cheap first-character test spares JSON.parse (and its exception) on HTML and text pages.
  const c = body.charCodeAt(0) === 0xfeff ? body.charCodeAt(1) : body.charCodeAt(0);
  if (c !== 0x7b /* { */ && c !== 0x5b /* [ */ && c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return undefined;
  try {
    return JSON.parse(body) as unknown;
  } catch {
    return undefined;
  }
}

function where(context: ClassifyContext): string {
  return context.target === undefined ? '' : ` (${context.target})`;
}

export function classify(facts: AttemptFacts, context: ClassifyContext): Classified {
  try {
    return facts.kind === 'answer' ? classifyAnswer(facts, context) : { ok: false, error: classifyFailure(facts, context) };
  } catch (error) {
    // Unreachable by construction (the property tests hold it to that); the fallback keeps the
    // function total anyway, and says "maybe" because nothing is known.
    return {
      ok: false,
      error: new ProtocolException(`could not classify the answer to ${context.method}`, {
        method: context.method,
        attempts: context.attempt,
        cause: error,
      }),
    };
  }
}

function classifyAnswer(facts: AnswerFacts, context: ClassifyContext): Classified {
  const { status, headers } = facts;
  const node = nodeOf(headers);
  const base = { method: context.method, attempts: context.attempt, node, epoch: parseEpoch(headers.epoch) };
  const fail = (error: RPCException): Classified => ({ ok: false, error });

  if (status === 401 || status === 403) {
    return fail(new AuthenticationException(status, `${context.method}: HTTP ${status} from the server${where(context)}`, base));
  }

  const parsed = parseJson(facts.body);
  const rpc = asJsonRpc(parsed);
  if (rpc !== undefined) {
    if (rpc.hasError) {
      const e = rpc.error as { code: number; message: string; data?: unknown };
      if (rpc.id !== context.id && rpc.id !== null) {
        return fail(new ProtocolException(`${context.method}: JSON-RPC error for another request id`, base));
      }
      return fail(new RemoteCallException(e.code, e.message, e.data, base));
    }
    if (rpc.id !== context.id) {
      return fail(new ProtocolException(`${context.method}: JSON-RPC response id does not match the request`, base));
    }
    if (status >= 200 && status < 300) {
      return {
        ok: true,
        response: { result: rpc.result, status, node, epoch: base.epoch, dedup: headers.dedup === '1' },
      };
    }
    return fail(new ProtocolException(`${context.method}: JSON-RPC result with HTTP ${status}`, base));
  }

  if (status === 429) {
    // RFC 6585 §4: the server refused the request to slow the client down. Back-pressure, not an
    // outage: the pipeline keeps this backend's "not before" time from Retry-After.
    return fail(
      new ConnectionFailureException(`${context.method}: HTTP 429 Too Many Requests${where(context)}`, {
        ...base,
        retryAfterMs: parseRetryAfter(headers.retryAfter, context.now),
        backPressure: true,
      }),
    );
  }
  if (status >= 500 && status <= 599) {
    if (node !== undefined) {
      const stated = nodeError(parsed);
      if (status === 503 && stated !== undefined && NOT_EXECUTED_ERRORS.has(stated)) {
        const what = stated === 'NOT_ACTIVE' ? 'is not active' : `did not execute the call (${stated})`;
        return fail(
          new ConnectionFailureException(`${context.method}: node ${node} ${what}${where(context)}`, {
            ...base,
            retryAfterMs: parseRetryAfter(headers.retryAfter, context.now),
            nodeError: stated,
          }),
        );
      }
      const detail = stated === COMMIT_UNKNOWN_ERROR ? ': the commit\'s outcome is unknown' : '';
      return fail(new UnknownOutcomeException(`${context.method}: node ${node} answered HTTP ${status}${detail}${where(context)}`, base));
    }
    if (headers.notForwarded?.trim() === '1') {
      return fail(
        new ConnectionFailureException(`${context.method}: HTTP ${status} from the balancer, nothing forwarded${where(context)}`, {
          ...base,
          retryAfterMs: parseRetryAfter(headers.retryAfter, context.now),
        }),
      );
    }
    // No evidence either way: a proxy may have forwarded the call before it answered this.
    return fail(new UnknownOutcomeException(`${context.method}: HTTP ${status} without evidence it was not forwarded${where(context)}`, base));
  }
  if (status >= 200 && status < 300) {
    const what = parsed === undefined ? 'not JSON' : 'not a JSON-RPC 2.0 response';
    return fail(new ProtocolException(`${context.method}: the answer is ${what}${where(context)}`, base));
  }
  if (status >= 300 && status < 400) {
    return fail(new ProtocolException(`${context.method}: HTTP ${status} redirect, not followed${where(context)}`, base));
  }
  return fail(new ProtocolException(`${context.method}: unexpected HTTP ${status}${where(context)}`, base));
}

/** The `error` string of a node's own non-JSON-RPC answer (`{"error":"NOT_ACTIVE", …}`), if any. */
function nodeError(parsed: unknown): string | undefined {
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const error = (parsed as { error?: unknown }).error;
  return typeof error === 'string' ? error : undefined;
}

function classifyFailure(facts: FailureFacts, context: ClassifyContext): RPCException {
  const node = nodeOf(facts.headers);
  const base = {
    method: context.method,
    attempts: context.attempt,
    node,
    epoch: parseEpoch(facts.headers?.epoch),
    cause: facts.cause,
  };
  // An answer that began can only come from a server that read the request.
  const written = facts.written || facts.responseStarted;
  switch (facts.reason) {
    case 'aborted':
      return new CallAbortedException(
        written ? `${context.method}: aborted after the request was sent` : `${context.method}: aborted before the request was sent`,
        { ...base, mayHaveExecuted: written },
      );
    case 'unserializable':
      return new ProtocolException(`${context.method}: params are not JSON-serializable; nothing was sent`, {
        ...base,
        mayHaveExecuted: written,
      });
    case 'too-large':
      return new ProtocolException(`${context.method}: the answer is larger than maxResponseBytes${where(context)}`, base);
    case 'timeout': {
      const after = context.timeoutMs === undefined ? '' : ` after ${context.timeoutMs} ms`;
      if (!written) {
        return new ConnectionFailureException(
          `${context.method}: timed out${after} before the request was sent${where(context)}`,
          base,
        );
      }
      return new UnknownOutcomeException(
        facts.responseStarted
          ? `${context.method}: timed out${after} while the answer was arriving${where(context)}`
          : `${context.method}: timed out${after} waiting for the answer${where(context)}`,
        base,
      );
    }
    case 'network':
    default: {
      const code = (facts.cause as { code?: unknown } | undefined)?.code;
      const detail = typeof code === 'string' ? ` (${code})` : '';
      if (!written) {
        return new ConnectionFailureException(
          `${context.method}: connection failed before the request was sent${detail}${where(context)}`,
          base,
        );
      }
      if (facts.responseStarted) {
        return new ProtocolException(
          `${context.method}: the answer was cut off${detail}${where(context)}`,
          base,
        );
      }
      return new UnknownOutcomeException(
        `${context.method}: connection lost after the request was sent${detail}${where(context)}`,
        base,
      );
    }
  }
}
