/**
 * DESIGN §2 for REST: what a complete HTTP answer means for the pipeline. An answer is either
 * the application's (returned to the caller exactly as axios would: 2xx, 3xx, and every 4xx
 * but 429) or a failure of the backend, thrown as the one {@link RPCException} that says
 * whether the request may have run:
 *
 * | answer                                                              | outcome                          | ran?  |
 * | ------------------------------------------------------------------- | -------------------------------- | ----- |
 * | 1xx–3xx, 4xx other than 429 (400, 401, 403, 404, 409, 422, …)       | the caller's answer, as axios    | yes¹  |
 * | 429 (RFC 6585 §4), with or without `Retry-After`                    | ConnectionFailure, backPressure  | no    |
 * | 503 with `X-Hotcold-Node`, body `{"error":"NOT_ACTIVE"}`             | ConnectionFailure (+Retry-After) | no    |
 * | 503 with `X-Hotcold-Node`, body `{"error":"NOT_EXECUTED"|"EXPIRED"}` | ConnectionFailure (+Retry-After) | no    |
 * | 5xx with `X-Hotcold-Node`, any other body (`COMMIT_UNKNOWN`, …)      | UnknownOutcome                   | maybe |
 * | 5xx without node headers, marked `X-Hotcold-Not-Forwarded: 1`        | ConnectionFailure (+Retry-After) | no    |
 * | 5xx without node headers, unmarked (502, 504, a proxy's own 503, …)  | UnknownOutcome                   | maybe |
 *
 * ¹ A 4xx is the server's decision about the request (RFC 9110 §15.5): the backend is up and
 * answered, so it is neither a breaker failure nor retried.
 *
 * `Retry-After` is read as RFC 9110 §10.2.3 says: delay-seconds or an HTTP-date
 * (src/shared/retry-after.ts).
 */
import { AxiosHeaders } from 'axios';
import { ConnectionFailureException, UnknownOutcomeException, type RPCException } from '../errors.js';
import { parseRetryAfter } from '../shared/retry-after.js';
import { HEADER_DEDUP, HEADER_EPOCH, HEADER_NODE, HEADER_NOT_FORWARDED, NOT_EXECUTED_ERRORS } from '../wire.js';

const EPOCH = /^\d{1,15}$/;

/** `X-Hotcold-Epoch` as a number, when it is one. */
export function parseEpoch(value: string | undefined): number | undefined {
  return value !== undefined && EPOCH.test(value.trim()) ? Number(value.trim()) : undefined;
}

/** The hotcold headers of an answer. */
export interface HotcoldAnswerHeaders {
  node: string | undefined;
  epoch: number | undefined;
  dedup: boolean;
  retryAfter: string | undefined;
  notForwarded: boolean;
}

/** A response's headers as axios gives them (AxiosHeaders, or a plain object from another adapter). */
export type HeaderSource = { get?: unknown } & Record<string, unknown>;

function header(headers: HeaderSource | undefined, name: string): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  return headerText(typeof headers.get === 'function' ? (headers.get as (n: string) => unknown).call(headers, name) : headers[name]);
}

/** A header's value as {@link header} reads it. */
function headerText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  if (typeof value === 'number') return String(value);
  return undefined;
}

export function readHotcoldHeaders(headers: HeaderSource | undefined): HotcoldAnswerHeaders {
  // A plain object (a custom adapter's answer, before axios makes it AxiosHeaders) is read by
  // name too: header names are case-insensitive (RFC 9110 §5.1), its spelling is the server's.
  if (headers instanceof AxiosHeaders || (headers !== undefined && headers !== null && typeof headers.get !== 'function')) return readAxiosHeaders(headers);
  const node = header(headers, HEADER_NODE);
  return {
    node: node !== undefined && node.length > 0 ? node : undefined,
    epoch: parseEpoch(header(headers, HEADER_EPOCH)),
    dedup: header(headers, HEADER_DEDUP)?.trim() === '1',
    retryAfter: header(headers, 'retry-after'),
    notForwarded: header(headers, HEADER_NOT_FORWARDED)?.trim() === '1',
  };
}

/**
 * The same five headers from axios's own header object in one pass over its names. Its `get`
 * lowercases every stored name on each call (and copies the name list), so five `get`s cost five
 * passes: per answer on the success path. This does what `get` does — a case-insensitive match,
 * the name stored last winning — for all five at once (axios keeps each header as an own
 * property under its name: `response.headers['content-type']`), and the same for a plain object
 * of names.
 */
function readAxiosHeaders(headers: AxiosHeaders | HeaderSource): HotcoldAnswerHeaders {
  const names = Object.keys(headers);
  const record = headers as unknown as Record<string, unknown>;
  let node: unknown;
  let epoch: unknown;
  let dedup: unknown;
  let retryAfter: unknown;
  let notForwarded: unknown;
  // Bit per header: found (the first match from the end is the one `get` returns).
  let found = 0;
  for (let i = names.length - 1; i >= 0 && found !== 0b11111; i--) {
    const name = names[i] as string;
    // Every hotcold header starts with "x-" and Retry-After with "r": most names end here without a lowercase copy.
    const first = name.charCodeAt(0) | 0x20;
    if (first !== 0x78 && first !== 0x72) continue;
    switch (name.toLowerCase()) {
      case HEADER_NODE:
        if ((found & 1) === 0) {
          found |= 1;
          node = record[name];
        }
        break;
      case HEADER_EPOCH:
        if ((found & 2) === 0) {
          found |= 2;
          epoch = record[name];
        }
        break;
      case HEADER_DEDUP:
        if ((found & 4) === 0) {
          found |= 4;
          dedup = record[name];
        }
        break;
      case 'retry-after':
        if ((found & 8) === 0) {
          found |= 8;
          retryAfter = record[name];
        }
        break;
      case HEADER_NOT_FORWARDED:
        if ((found & 16) === 0) {
          found |= 16;
          notForwarded = record[name];
        }
        break;
      default:
        break;
    }
  }
  const nodeText = headerText(node);
  return {
    node: nodeText !== undefined && nodeText.length > 0 ? nodeText : undefined,
    epoch: parseEpoch(headerText(epoch)),
    dedup: headerText(dedup)?.trim() === '1',
    retryAfter: headerText(retryAfter),
    notForwarded: headerText(notForwarded)?.trim() === '1',
  };
}

/** Whether `status` is the application's answer (returned to the caller), not a backend failure. */
export function isAnswerStatus(status: number): boolean {
  return status >= 100 && status < 500 && status !== 429;
}

/** The `error` string of a node's own JSON answer (`{"error":"NOT_ACTIVE", …}`), if any. */
export function nodeErrorOf(body: unknown): string | undefined {
  let parsed = body;
  if (typeof body === 'string') {
    if (!body.trimStart().startsWith('{')) return undefined;
    try {
      parsed = JSON.parse(body) as unknown;
    } catch {
      return undefined;
    }
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const error = (parsed as { error?: unknown }).error;
  return typeof error === 'string' ? error : undefined;
}

export interface FailureContext {
  /** The operation name (route). */
  name: string;
  attempt: number;
  now?: number | undefined;
}

/**
 * The exception for a 429 or 5xx answer (see the table above). `body` is the raw body (text,
 * or parsed JSON from another adapter); it is read only for a node's own 5xx.
 */
export function classifyFailedAnswer(status: number, h: HotcoldAnswerHeaders, body: unknown, context: FailureContext): RPCException {
  const base = { method: context.name, attempts: context.attempt, node: h.node, epoch: h.epoch };
  const name = context.name;
  if (status === 429) {
    return new ConnectionFailureException(`${name}: HTTP 429 Too Many Requests`, {
      ...base,
      retryAfterMs: parseRetryAfter(h.retryAfter, context.now),
      backPressure: true,
    });
  }
  if (h.node !== undefined) {
    const stated = nodeErrorOf(body);
    if (status === 503 && stated !== undefined && NOT_EXECUTED_ERRORS.has(stated)) {
      const what = stated === 'NOT_ACTIVE' ? 'is not active' : `did not execute the request (${stated})`;
      return new ConnectionFailureException(`${name}: node ${h.node} ${what}`, {
        ...base,
        retryAfterMs: parseRetryAfter(h.retryAfter, context.now),
        nodeError: stated,
      });
    }
    const detail = stated === undefined ? '' : ` (${stated.slice(0, 40)})`;
    return new UnknownOutcomeException(`${name}: node ${h.node} answered HTTP ${status}${detail}`, base);
  }
  if (h.notForwarded) {
    return new ConnectionFailureException(`${name}: HTTP ${status} from the balancer, nothing forwarded`, {
      ...base,
      retryAfterMs: parseRetryAfter(h.retryAfter, context.now),
    });
  }
  // No evidence either way: a proxy may have forwarded the request before it answered this.
  return new UnknownOutcomeException(`${name}: HTTP ${status} without evidence it was not forwarded`, base);
}
