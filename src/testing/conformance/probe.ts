import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import {
  HEADER_ATTEMPT,
  HEADER_DEDUP,
  HEADER_EPOCH,
  HEADER_IDEMPOTENCY_KEY,
  HEADER_NODE,
  HEADER_TIMEOUT_MS,
  type JsonRpcId,
} from '../../wire.js';
import { exchange, header, type Exchange } from './exchange.js';

/**
 * What the checks share: the two servers' addresses, a raw JSON-RPC sender, the counters of the
 * conformance methods (docs/wire.md §11) through which a check sees whether a call executed,
 * and every answer a node gave (for the checks that hold for every answer).
 */

/** A check's verdict against the requirement: thrown by {@link expect}, reported as `fail`. */
export class CheckFailed extends Error {
  constructor(detail: string) {
    super(detail);
    this.name = 'CheckFailed';
  }
}

/** Fails the check with `detail` unless `condition` holds. */
export function expect(condition: boolean, detail: string): asserts condition {
  if (!condition) throw new CheckFailed(detail);
}

export interface RpcSend {
  /** Base URL; default the node under test. */
  base?: string | undefined;
  id?: JsonRpcId | null | undefined;
  key?: string | undefined;
  /** `X-Hotcold-Timeout-Ms` value, sent as given. */
  timeoutHeader?: string | undefined;
  attempt?: number | undefined;
  /** Extra headers (merged over the kit's base headers). */
  headers?: Record<string, string> | undefined;
  /** A raw body instead of the JSON-RPC request (for the parse-error checks). */
  rawBody?: string | undefined;
  /** Longest wait for this answer; default the kit's request timeout. */
  waitMs?: number | undefined;
}

export interface ProbeSettings {
  url: string;
  standbyUrl: string | undefined;
  rpcPath: string;
  healthPath: string;
  headers: Record<string, string>;
  callers: readonly [Record<string, string>, Record<string, string>];
  dedup: boolean;
  feeds: boolean;
  requestTimeoutMs: number;
  midCallSleepMs: number;
  signal: AbortSignal | undefined;
}

/** Node identity as the active node's /health announced it. */
export interface Identity {
  node: string;
  epoch: number;
}

/** Short JSON for details, cut at `max` characters. */
export function brief(value: unknown, max = 160): string {
  let text: string;
  if (typeof value === 'string') text = JSON.stringify(value);
  else {
    try {
      text = JSON.stringify(value) ?? String(value);
    } catch {
      text = String(value);
    }
  }
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** `HTTP 503 {"error":…}` — an answer in one line, for details. */
export function show(answer: Exchange): string {
  return `HTTP ${answer.status} ${answer.json === undefined ? brief(answer.text, 120) : brief(answer.json, 120)}`;
}

export const EPOCH_PATTERN = /^\d{1,15}$/;

export class Probe {
  /** Every answer a node (not a check's own helper read) gave, with where it came from. */
  readonly answers: { from: 'active' | 'standby'; what: string; answer: Exchange }[] = [];
  identity: Identity | undefined;
  /** What one check prepares for the next ones (e.g. the feed the feed checks share). */
  readonly memo = new Map<string, unknown>();
  /** Unique per run: a real server keeps idempotency records and counters for a day. */
  readonly run = randomUUID().slice(0, 8);
  private sequence = 0;

  constructor(readonly settings: ProbeSettings) {}

  /** A fresh name for a counter, key or feed. */
  fresh(what: string): string {
    this.sequence += 1;
    return `hotcold-conformance-${this.run}-${what}-${this.sequence}`;
  }

  private checkAborted(): void {
    if (this.settings.signal?.aborted) throw new CheckFailed('aborted');
  }

  async health(base: string, method: 'GET' | 'HEAD' = 'GET'): Promise<Exchange> {
    this.checkAborted();
    const answer = await exchange({
      method,
      url: base.replace(/\/+$/, '') + this.settings.healthPath,
      headers: { ...this.settings.headers },
      timeoutMs: this.settings.requestTimeoutMs,
      signal: this.settings.signal,
    });
    this.answers.push({ from: base === this.settings.url ? 'active' : 'standby', what: `${method} ${this.settings.healthPath}`, answer });
    return answer;
  }

  /** Sends one JSON-RPC request; `record` false for the kit's own counter reads. */
  async rpc(method: string, params: unknown, send: RpcSend = {}, record = true): Promise<Exchange> {
    this.checkAborted();
    const base = send.base ?? this.settings.url;
    const headers: Record<string, string> = { ...this.settings.headers, ...send.headers };
    if (send.key !== undefined) headers[HEADER_IDEMPOTENCY_KEY] = send.key;
    if (send.timeoutHeader !== undefined) headers[HEADER_TIMEOUT_MS] = send.timeoutHeader;
    if (send.attempt !== undefined) headers[HEADER_ATTEMPT] = String(send.attempt);
    const id = send.id === undefined ? 1 : send.id;
    const body =
      send.rawBody ?? JSON.stringify({ jsonrpc: '2.0', id, method, ...(params === undefined ? {} : { params }) });
    const answer = await exchange({
      method: 'POST',
      url: base.replace(/\/+$/, '') + this.settings.rpcPath,
      headers,
      body,
      timeoutMs: send.waitMs ?? this.settings.requestTimeoutMs,
      signal: this.settings.signal,
    });
    if (record) this.answers.push({ from: base === this.settings.url ? 'active' : 'standby', what: method, answer });
    return answer;
  }

  /** The JSON-RPC `result` of a `200` answer with the request's id, or a failed check. */
  result(answer: Exchange, id: JsonRpcId = 1, what = 'the call'): unknown {
    const body = answer.json as { jsonrpc?: unknown; id?: unknown; result?: unknown; error?: unknown } | undefined;
    expect(answer.status === 200, `${what}: expected HTTP 200 with a JSON-RPC result, got ${show(answer)}`);
    expect(typeof body === 'object' && body !== null && body.jsonrpc === '2.0', `${what}: not a JSON-RPC 2.0 response: ${show(answer)}`);
    expect(Object.hasOwn(body, 'result') && !Object.hasOwn(body, 'error'), `${what}: expected a result, got ${show(answer)}`);
    expect(body.id === id, `${what}: response id ${brief(body.id)} is not the request's ${brief(id)}`);
    return body.result;
  }

  /** The JSON-RPC `error` object of an answer, or a failed check. */
  rpcError(answer: Exchange, what: string): { code: number; message: string; data?: unknown; id: unknown } {
    const body = answer.json as { jsonrpc?: unknown; id?: unknown; error?: unknown } | undefined;
    expect(typeof body === 'object' && body !== null && body.jsonrpc === '2.0', `${what}: expected a JSON-RPC 2.0 error response, got ${show(answer)}`);
    expect(Object.hasOwn(body, 'id'), `${what}: the error response has no id: ${show(answer)}`);
    const error = body.error as { code?: unknown; message?: unknown; data?: unknown } | undefined;
    expect(typeof error === 'object' && error !== null && !Object.hasOwn(body, 'result'), `${what}: expected a JSON-RPC error, got ${show(answer)}`);
    expect(typeof error.code === 'number' && Number.isInteger(error.code) && typeof error.message === 'string', `${what}: the error object needs an integer code and a string message: ${show(answer)}`);
    expect(answer.status !== 401 && answer.status !== 403, `${what}: HTTP ${answer.status} means "not authenticated" to a client, not a JSON-RPC error`);
    return { code: error.code, message: error.message, data: error.data, id: body.id };
  }

  /** The node's identity headers on `answer`, or a failed check. */
  nodeHeaders(answer: Exchange, what: string): Identity {
    const node = header(answer, HEADER_NODE);
    const epoch = header(answer, HEADER_EPOCH);
    expect(typeof node === 'string' && node.length > 0, `${what}: no X-Hotcold-Node header (${show(answer)})`);
    expect(typeof epoch === 'string' && EPOCH_PATTERN.test(epoch), `${what}: X-Hotcold-Epoch ${brief(epoch)} is not a decimal integer`);
    return { node, epoch: Number(epoch) };
  }

  /** A `503 {"error": <error>}` node answer ("not executed"), or a failed check. */
  notExecuted(answer: Exchange, error: 'NOT_ACTIVE' | 'NOT_EXECUTED' | 'EXPIRED', what: string): void {
    const body = answer.json as { error?: unknown } | undefined;
    expect(answer.status === 503, `${what}: expected HTTP 503 {"error":"${error}"}, got ${show(answer)}`);
    this.nodeHeaders(answer, what);
    expect(typeof body === 'object' && body !== null && body.error === error, `${what}: expected the body {"error":"${error}",…}, got ${show(answer)}`);
  }

  /** Reads counter `name` (a keyless `conformance.counter` with `add: 0`). */
  async readCounter(name: string): Promise<number> {
    const answer = await this.rpc('conformance.counter', { name, add: 0 }, { id: 'read' }, false);
    const result = this.result(answer, 'read', `reading counter ${name} (conformance.counter, add 0)`) as { value?: unknown } | null;
    const value = result?.value;
    expect(typeof value === 'number' && Number.isSafeInteger(value), `conformance.counter answered ${brief(result)}, not {name, value}`);
    return value;
  }

  /** Fails unless counter `name` still reads `expected` (the call in question did not execute). */
  async expectCounter(name: string, expected: number, what: string): Promise<void> {
    const now = await this.readCounter(name);
    expect(now === expected, `${what}: counter ${name} is ${now}, expected ${expected}${now > expected ? ' — the call executed' : ''}`);
  }

  sameResult(a: unknown, b: unknown): boolean {
    return isDeepStrictEqual(a, b);
  }

  dedupHeader(answer: Exchange): string | undefined {
    return header(answer, HEADER_DEDUP);
  }
}
