import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  FEED_METHOD,
  HEADER_IDEMPOTENCY_KEY,
  HOTCOLD_KEY_CONFLICT,
  JSONRPC_INTERNAL_ERROR,
  JSONRPC_INVALID_PARAMS,
  JSONRPC_INVALID_REQUEST,
  JSONRPC_METHOD_NOT_FOUND,
  MAX_IDEMPOTENCY_KEY_LENGTH,
  type HealthBody,
} from '../wire.js';
import { HEADER_CALLER_TIMEOUT, parseCallerTimeout } from './caller-deadline.js';
import type { CallExecution, CallExecutor } from './call-executor.js';
import type { FeedEndpoint } from './feed-endpoint.js';
import { BodyTooLargeError, readBody, sendEmpty, sendJson } from './http-io.js';
import { errorResponse, parseRequest } from './json-rpc.js';
import type { NodeAnswers } from './node-answers.js';
import type { NodeClock } from './node-clock.js';
import type { ResolvedNodeOptions } from './node-options.js';
import type { NodeStatusTracker } from './node-status.js';
import { describeError as describe } from './describe-error.js';
import { OTHER_METHOD, type CallRecord, type NodeMetrics } from './node-metrics.js';
import type { CallOutcome } from './call-executor.js';
import { nameServerSpan, serverTracing } from '../observability/server-span.js';


/** What the request log learns of a request as it is routed. */
interface RequestRecord {
  method: string | undefined;
  key: string | undefined;
  epoch: number | undefined;
}

/**
 * HTTP routing: `/health`, `POST /rpc` (body limit, JSON-RPC parsing, header validation, the
 * active check) and the hand-over to the call executor or the feed endpoint. It decides nothing
 * about a call's outcome; it only carries the executor's answer out.
 */
export class HttpRouter {
  /** A SERVER span per request, continuing the caller's trace; undefined when nobody collects. */
  private readonly tracing = serverTracing();

  constructor(
    private readonly deps: {
      opts: ResolvedNodeOptions;
      status: NodeStatusTracker;
      answers: NodeAnswers;
      executor: CallExecutor;
      feeds: FeedEndpoint | undefined;
      identify: (req: IncomingMessage) => string;
      clock: NodeClock;
      /** Registers a running call until its transaction has ended (drain and stop wait for it). */
      track(execution: CallExecution): void;
      metrics: NodeMetrics;
    },
  ) {}

  /** The request listener; never rejects. */
  handle(req: IncomingMessage, res: ServerResponse): void {
    // The caller's time counts from arrival, not from when a slot frees up.
    const arrival = this.deps.clock.now();
    // Filled in by route() as it learns the method and the answer; undefined: not a JSON-RPC request.
    const box: { call?: CallRecord } = {};
    const routed = this.tracing === undefined
      ? this.route(req, res, arrival, box)
      : this.tracing.serve(req, res, () => this.route(req, res, arrival, box));
    void routed
      .catch((error: unknown) => {
        this.deps.status.emit({ type: 'handler-error', method: '(request)', error: describe(error) });
        if (box.call) box.call.outcome = 'COMMIT_UNKNOWN';
        // Not a JSON-RPC error: that would tell the client the call ran. The node does not know
        // how far the call got, so the truthful answer is "maybe".
        if (!res.headersSent) this.deps.answers.commitUnknown(res, undefined, 'internal error in the node; the call may have executed');
        else res.destroy();
      })
      .finally(() => {
        if (box.call) this.deps.metrics.call(box.call, this.deps.clock.now() - arrival);
      });
  }

  /** The request log: a `request` event when the response is done (or its connection ended). */
  private recordRequest(req: IncomingMessage, res: ServerResponse, arrival: number): RequestRecord {
    // The key is in the headers, so even a call refused unread is logged with it. A key of the
    // wrong shape (refused below) is the caller's arbitrary text: not logged.
    const rawKey = req.headers[HEADER_IDEMPOTENCY_KEY];
    const key = typeof rawKey === 'string' && wellFormedKey(rawKey) ? rawKey : undefined;
    const record: RequestRecord = { method: undefined, key, epoch: undefined };
    res.once('close', () => {
      const { outcome, code } = this.deps.answers.outcomeOf(res);
      this.deps.status.emit({
        type: 'request',
        method: record.method,
        key: record.key,
        outcome,
        ...(code === undefined ? {} : { code }),
        httpStatus: res.headersSent ? res.statusCode : 0,
        epoch: record.epoch ?? this.deps.status.servedToken,
        durationMs: Math.round((this.deps.clock.now() - arrival) * 10) / 10,
      });
    });
    return record;
  }

  private serveHealth(req: IncomingMessage, res: ServerResponse): void {
    const { status, answers } = this.deps;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { ...answers.headers(), allow: 'GET, HEAD' }, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    const held = status.activeLease();
    const body: HealthBody = { status: held ? 'active' : status.wireStatus(), node: status.machine };
    const token = held?.token ?? status.servedToken;
    if (token !== undefined) body.epoch = token;
    if (req.method === 'HEAD') sendEmpty(res, held ? 200 : 503, answers.headers(held?.token));
    else sendJson(res, held ? 200 : 503, answers.headers(held?.token), body);
  }

  private notActive(res: ServerResponse): void {
    this.deps.answers.notActive(res, 'this node does not hold the lease; the request was not executed', this.deps.opts.lease.state.token);
  }

  private async route(req: IncomingMessage, res: ServerResponse, arrival: number, box: { call?: CallRecord }): Promise<void> {
    const { opts, status, answers, executor } = this.deps;
    const path = (req.url ?? '/').split('?')[0];
    if (path === opts.healthPath) {
      this.serveHealth(req, res);
      return;
    }
    if (path !== opts.rpcPath) {
      req.resume();
      sendJson(res, 404, answers.headers(), { error: 'NOT_FOUND' });
      return;
    }
    if (req.method !== 'POST') {
      req.resume();
      sendJson(res, 405, { ...answers.headers(), allow: 'POST' }, { error: 'METHOD_NOT_ALLOWED' });
      return;
    }
    const call: CallRecord = { method: OTHER_METHOD, outcome: 'invalid_request', code: JSONRPC_INVALID_REQUEST };
    box.call = call;
    const record = status.recordingRequests ? this.recordRequest(req, res, arrival) : undefined;
    // Refuse before reading the body: a standby must not even look at the call.
    if (!status.activeLease()) {
      req.resume();
      call.outcome = 'NOT_ACTIVE';
      this.notActive(res);
      return;
    }
    let body: string;
    try {
      body = await readBody(req, opts.maxBodyBytes);
    } catch (error) {
      if (error instanceof BodyTooLargeError) {
        sendJson(res, 413, { ...answers.headers(), connection: 'close' }, errorResponse(null, { code: JSONRPC_INVALID_REQUEST, message: 'request body too large; not executed' }));
      } else {
        res.destroy();
      }
      return;
    }
    const parsed = parseRequest(body);
    if (!parsed.ok) {
      call.code = 'error' in parsed.response ? parsed.response.error.code : undefined;
      sendJson(res, 200, answers.headers(), parsed.response);
      return;
    }
    const { id, notification, method, params } = parsed;
    // Only a method the node serves is named (metric series, span name): a client can send any name.
    if (opts.handlers.has(method) || (method === FEED_METHOD && this.deps.feeds)) {
      call.method = method;
      if (this.tracing !== undefined) nameServerSpan(method);
    }
    const rawKey = req.headers[HEADER_IDEMPOTENCY_KEY];
    const key = typeof rawKey === 'string' ? rawKey : undefined;
    if (record) record.method = method;
    if (key !== undefined && !wellFormedKey(key)) {
      answers.rpc(res, undefined, errorResponse(id, { code: JSONRPC_INVALID_REQUEST, message: `Idempotency-Key must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} printable characters` }), notification);
      return;
    }
    const timeout = parseCallerTimeout(req.headers[HEADER_CALLER_TIMEOUT]);
    if (timeout === 'invalid') {
      sendJson(
        res,
        400,
        answers.headers(),
        errorResponse(id, { code: JSONRPC_INVALID_REQUEST, message: 'X-Hotcold-Timeout-Ms must be a whole number of milliseconds, 0..2147483647; not executed' }),
      );
      return;
    }
    const deadline = timeout === undefined ? undefined : arrival + timeout;
    if (method === FEED_METHOD && this.deps.feeds) {
      const ended = await this.deps.feeds.serve(res, id, params, deadline);
      // A caller that went away counts as a call whose caller's time ran out, as in the executor.
      call.outcome = ended === 'closed' ? 'EXPIRED' : ended;
      call.code = ended === 'invalid_request' ? JSONRPC_INVALID_PARAMS : undefined;
      return;
    }
    const handler = opts.handlers.get(method);
    if (!handler) {
      call.code = JSONRPC_METHOD_NOT_FOUND;
      answers.rpc(res, undefined, errorResponse(id, { code: JSONRPC_METHOD_NOT_FOUND, message: 'method not found' }), notification);
      return;
    }
    let caller: string;
    try {
      caller = this.deps.identify(req);
      if (typeof caller !== 'string' || caller.length === 0) throw new Error('identify() must return a non-empty string');
    } catch (error) {
      status.emit({ type: 'handler-error', method, error: describe(error) });
      call.outcome = 'internal_error';
      call.code = JSONRPC_INTERNAL_ERROR;
      answers.rpc(res, undefined, errorResponse(id, { code: JSONRPC_INTERNAL_ERROR, message: 'internal error' }), notification);
      return;
    }
    // The decisive check, synchronously right before executing.
    const held = status.activeLease();
    if (!held || held.signal.aborted) {
      call.outcome = 'NOT_ACTIVE';
      call.code = undefined;
      this.notActive(res);
      return;
    }
    if (record) record.epoch = held.token;
    const execution = executor.execute({ method, params, key, caller, handler, held, deadline });
    this.deps.track(execution);
    // A caller that closed its connection has given up: under overload, do not start its call.
    const onClose = (): void => {
      if (!res.writableEnded) execution.abandon();
    };
    res.once('close', onClose);
    try {
      const outcome = await execution.outcome;
      recordOutcome(call, outcome);
      answers.outcome(res, held.token, id, notification, outcome);
    } finally {
      res.off('close', onClose);
    }
  }
}

/** What a call's outcome counts as (node-metrics.ts). */
function recordOutcome(call: CallRecord, outcome: CallOutcome): void {
  call.code = undefined;
  switch (outcome.kind) {
    case 'result':
      call.outcome = 'ok';
      return;
    case 'stored':
      call.outcome = 'replayed';
      return;
    case 'conflict':
      call.outcome = 'key_conflict';
      call.code = HOTCOLD_KEY_CONFLICT;
      return;
    case 'rpc-error':
      call.outcome = 'app_error';
      call.code = outcome.code;
      return;
    case 'not-executed':
      call.outcome = outcome.error;
      return;
    case 'commit-unknown':
      call.outcome = 'COMMIT_UNKNOWN';
      return;
  }
}

/** An Idempotency-Key the node accepts: 1..MAX_IDEMPOTENCY_KEY_LENGTH printable characters. */
function wellFormedKey(key: string): boolean {
  // Control characters are what this test looks for (a header value must not carry them).
  // eslint-disable-next-line no-control-regex
  return key.length > 0 && key.length <= MAX_IDEMPOTENCY_KEY_LENGTH && !/[\x00-\x1f\x7f]/.test(key);
}
