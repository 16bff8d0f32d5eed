import type { ServerResponse } from 'node:http';
import { HEADER_DEDUP, HEADER_EPOCH, HEADER_NODE, HOTCOLD_KEY_CONFLICT, type JsonRpcId, type JsonRpcResponse, type NotActiveBody } from '../wire.js';
import type { CallOutcome } from './call-executor.js';
import { sendEmpty, sendJson } from './http-io.js';
import { errorResponse, resultResponse } from './json-rpc.js';
import type { NodeStatusTracker } from './node-status.js';
import type { RequestOutcome } from './types.js';

/** Body of `503 NOT_EXECUTED | EXPIRED`: the node holds (or held) the lease and did not execute the call. */
export interface NotExecutedBody {
  /** `NOT_EXECUTED`: rolled back before commit (database error, lease lost mid-call); `EXPIRED`: the caller's time was spent before it started. */
  error: 'NOT_EXECUTED' | 'EXPIRED';
  /** The node's machine name. */
  node: string;
  /** The fencing token of the node's term, when it had one. */
  epoch?: number;
  /** Why, for people (redacted). */
  message: string;
}

/** Body of `500 COMMIT_UNKNOWN`: COMMIT was sent and not acknowledged; the call may have executed. */
export interface CommitUnknownBody {
  /** Always `COMMIT_UNKNOWN`. */
  error: 'COMMIT_UNKNOWN';
  /** The node's machine name. */
  node: string;
  /** The fencing token of the term the call ran under, when known. */
  epoch?: number;
  /** Why, for people (redacted). */
  message: string;
}

/**
 * The node's HTTP answers. Every one carries `X-Hotcold-Node` and `X-Hotcold-Epoch` (DESIGN §1):
 * they are what lets the client tell a node's "not executed" from a proxy's guess.
 */
export class NodeAnswers {
  /** What each response answered, for the request log (only while someone listens). */
  private readonly noted = new WeakMap<ServerResponse, { outcome: RequestOutcome; code?: number }>();

  constructor(
    private readonly machine: string,
    private readonly dedup: boolean,
    private readonly retryAfterSeconds: number,
    private readonly status: NodeStatusTracker,
  ) {}

  /** The outcome `res` was answered with; from its HTTP status when no answer here recorded one. */
  outcomeOf(res: ServerResponse): { outcome: RequestOutcome; code?: number } {
    return this.noted.get(res) ?? { outcome: !res.headersSent ? 'aborted' : res.statusCode < 300 ? 'ok' : 'error' };
  }

  private note(res: ServerResponse, outcome: RequestOutcome, code?: number): void {
    if (this.status.recordingRequests) this.noted.set(res, code === undefined ? { outcome } : { outcome, code });
  }

  headers(token?: number): Record<string, string> {
    const h: Record<string, string> = { [HEADER_NODE]: this.machine, [HEADER_EPOCH]: String(token ?? this.status.servedToken ?? 0) };
    if (this.dedup) h[HEADER_DEDUP] = '1';
    return h;
  }

  /** `503 NOT_ACTIVE`: this node does not hold the lease (or is draining); the request was not executed. */
  notActive(res: ServerResponse, message: string, holderToken: number | undefined): void {
    const status = this.status.wireStatus();
    const body: NotActiveBody = { error: 'NOT_ACTIVE', status: status === 'active' ? 'lost' : status, node: this.machine, message };
    if (typeof holderToken === 'number') body.epoch = holderToken;
    this.note(res, 'NOT_ACTIVE');
    sendJson(res, 503, { ...this.headers(), 'retry-after': String(this.retryAfterSeconds) }, body);
  }

  /** `503 NOT_EXECUTED | EXPIRED` under the tenure `token`. */
  notExecuted(res: ServerResponse, token: number | undefined, error: NotExecutedBody['error'], message: string): void {
    const body: NotExecutedBody = { error, node: this.machine, message };
    const epoch = token ?? this.status.servedToken;
    if (epoch !== undefined) body.epoch = epoch;
    this.note(res, error);
    const extra: Record<string, string> = error === 'NOT_EXECUTED' ? { 'retry-after': String(this.retryAfterSeconds) } : {};
    sendJson(res, 503, { ...this.headers(token), ...extra }, body);
  }

  /** `500 COMMIT_UNKNOWN` under the tenure `token`. */
  commitUnknown(res: ServerResponse, token: number | undefined, message: string): void {
    const body: CommitUnknownBody = { error: 'COMMIT_UNKNOWN', node: this.machine, message };
    const epoch = token ?? this.status.servedToken;
    if (epoch !== undefined) body.epoch = epoch;
    this.note(res, 'COMMIT_UNKNOWN');
    sendJson(res, 500, this.headers(token), body);
  }

  /** A JSON-RPC answer (`200`, or `204` for a notification). */
  rpc(res: ServerResponse, token: number | undefined, response: JsonRpcResponse, notification: boolean): void {
    if ('error' in response) this.note(res, 'error', response.error.code);
    else this.note(res, 'ok');
    if (notification) sendEmpty(res, 204, this.headers(token));
    else sendJson(res, 200, this.headers(token), response);
  }

  /** Carries out a call's outcome. */
  outcome(res: ServerResponse, token: number, id: JsonRpcId | null, notification: boolean, outcome: CallOutcome): void {
    switch (outcome.kind) {
      case 'result':
      case 'stored':
        this.rpc(res, token, resultResponse(id, outcome.result), notification);
        return;
      case 'conflict':
        this.rpc(
          res,
          token,
          errorResponse(id, {
            code: HOTCOLD_KEY_CONFLICT,
            message: outcome.reason === 'caller' ? 'this Idempotency-Key was used by another caller' : 'this Idempotency-Key was used with a different method or params',
          }),
          notification,
        );
        return;
      case 'rpc-error':
        this.rpc(res, token, errorResponse(id, { code: outcome.code, message: outcome.message, data: outcome.data }), notification);
        return;
      case 'not-executed':
        this.notExecuted(
          res,
          token,
          outcome.error,
          outcome.error === 'EXPIRED'
            ? "the caller's time was spent before this call could commit; it was not executed"
            : 'this call was rolled back before commit (or never started); it was not executed',
        );
        return;
      case 'commit-unknown':
        this.commitUnknown(res, token, 'the commit of this call was sent but not acknowledged; it may have executed');
        return;
    }
  }
}
