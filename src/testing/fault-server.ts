/**
 * A real HTTP/1.1 server on 127.0.0.1 that speaks the hotcold wire contract (DESIGN §1) and can
 * misbehave on demand, one request at a time or for a while: refuse, reset, stall, trickle,
 * answer like a balancer with no backend, answer garbage. It records what it received and whether
 * it ran the handler, so a test can check that an error's `mayHaveExecuted` told the truth.
 */
import http from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { ConfigurationError } from '../errors.js';
import {
  requireNonEmptyString,
  requireNonNegativeInteger,
  requireObject,
  requireOneOf,
  requirePositiveInteger,
  rejectUnknownKeys,
  requireHeaderText,
} from '../shared/validate.js';
import {
  DEFAULT_HEALTH_PATH,
  DEFAULT_RPC_PATH,
  HEADER_ATTEMPT,
  HEADER_DEDUP,
  HEADER_EPOCH,
  HEADER_IDEMPOTENCY_KEY,
  HEADER_NODE,
  HEADER_NOT_FORWARDED,
  type JsonRpcErrorObject,
  type JsonRpcId,
  type NodeStatus,
} from '../wire.js';
import {
  ALL_FAULT_MODES,
  BALANCER_502_BODY,
  BALANCER_503_BODY,
  PROXY_503_BODY,
  BALANCER_504_BODY,
  EXECUTION_DEFAULTS,
  NEVER_EXECUTED,
  otherId,
  type FaultMode,
  type FaultModeName,
  type FaultSpec,
} from './fault-modes.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';

/** The mark the shipped balancer configs put on their own "forwarded nothing" answer. */
const NOT_FORWARDED: Readonly<Record<string, string>> = Object.freeze({ [HEADER_NOT_FORWARDED]: '1' });

/** What a {@link FaultHandler} learns about the request besides its method and params. */
export interface FaultRequestMeta {
  /** The JSON-RPC id (`null` or `undefined` for a notification). */
  id: JsonRpcId | null | undefined;
  /** The `Idempotency-Key` header, when sent. */
  idempotencyKey: string | undefined;
  /** The `X-Hotcold-Attempt` header as a number, when sent. */
  attempt: number | undefined;
  /** The `Authorization` header, when sent (tests check credentials arrive). */
  authorization: string | undefined;
  /** Every request header. */
  headers: IncomingHttpHeaders;
  /** The node identity the server had when the request arrived. */
  node: string;
  /** The epoch it had then. */
  epoch: number;
}

/**
 * Computes the result of an executed call. Throw a {@link FaultRpcError} (or anything with a
 * numeric `code`) to answer with a JSON-RPC error; any other throw answers -32603.
 */
export type FaultHandler = (method: string, params: unknown, meta: FaultRequestMeta) => unknown;

/** Thrown by a {@link FaultHandler} to answer with this JSON-RPC error object. */
export class FaultRpcError extends Error {
  /** The JSON-RPC error code answered. */
  readonly code: number;
  /** The error object's `data` member (`undefined` omits it). */
  readonly data: unknown;
  constructor(code: number, message: string, data?: unknown) {
    super(message);
    this.name = 'FaultRpcError';
    this.code = code;
    this.data = data;
  }
}

/** Options of {@link startFaultServer}; a bad value throws a `ConfigurationError` naming the field. */
export interface FaultServerOptions {
  /**
   * `X-Hotcold-Node` on every answer.
   * @default 'fault-node'
   */
  node?: string;
  /**
   * `X-Hotcold-Epoch` on every answer.
   * @default 1
   */
  epoch?: number;
  /**
   * Initial mode.
   * @default 'ok'
   */
  mode?: FaultMode;
  /** Computes results of executed calls; without one, the result echoes `{ method, params }`. */
  handler?: FaultHandler;
  /**
   * Advertise `X-Hotcold-Dedup: 1` and answer a repeated `Idempotency-Key` from memory.
   * @default false
   */
  dedup?: boolean;
  /**
   * What `GET /health` reports (default 'active'). While the global mode is `balancer-503`, `502`
   * or `504` the probe gets that page instead, and under `not-active` it reports 'standby'.
   */
  health?: NodeStatus;
  /**
   * Path of the JSON-RPC endpoint.
   * @default '/rpc'
   */
  rpcPath?: string;
  /**
   * Path of the health endpoint.
   * @default '/health'
   */
  healthPath?: string;
  /**
   * Records kept (oldest dropped first); 0 keeps none (benchmarks).
   * @default 10000
   */
  maxRecords?: number;
}

/** What the server did with a request. */
export type FaultOutcome =
  | 'answered'
  | 'reset'
  | 'stalled'
  | 'headers-only'
  | 'trickled'
  | 'truncated'
  | 'deduplicated'
  | 'invalid-request';

/** One request as the fault server saw it (see {@link FaultServer.requests}). */
export interface FaultRequestRecord {
  /** 1-based arrival order. */
  seq: number;
  /** The mode applied to this request. */
  mode: FaultModeName;
  /** The JSON-RPC method; undefined when nothing was read (reset-on-accept) or unparsable. */
  method: string | undefined;
  /** The JSON-RPC id. */
  id: JsonRpcId | null | undefined;
  /** The JSON-RPC params. */
  params: unknown;
  /** The `Idempotency-Key` header, when sent. */
  idempotencyKey: string | undefined;
  /** The `X-Hotcold-Attempt` header as a number, when sent. */
  attempt: number | undefined;
  /** The `Authorization` header, when sent. */
  authorization: string | undefined;
  /** Every request header. */
  headers: IncomingHttpHeaders;
  /** Which connection carried it (1-based, in accept order): shows keep-alive reuse. */
  connection: number;
  /** Whether the handler ran (the call "executed" on this server). */
  executed: boolean;
  /** What the server did with it (final once the answer is sent). */
  outcome: FaultOutcome;
  /** The node identity the server had when the request arrived. */
  node: string;
  /** The epoch it had then. */
  epoch: number;
}

/** A running fault server (see {@link startFaultServer}). */
export interface FaultServer {
  /** `http://127.0.0.1:<port>`: stays valid across `refuse()`/`resume()`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** `url` plus the RPC path. */
  readonly rpcUrl: string;
  /** The global mode now. */
  readonly mode: FaultMode;
  /** The node name it answers with now. */
  readonly node: string;
  /** The epoch it answers with now. */
  readonly epoch: number;
  /** Every RPC request received (and every reset-on-accept connection), in order. */
  readonly requests: readonly FaultRequestRecord[];
  /** `GET /health` requests answered. */
  readonly healthRequests: number;
  /** Sockets currently open on the server side. */
  readonly openConnections: number;
  /** Modes still queued. */
  readonly queued: number;
  /**
   * Sets the mode for every request not served from the queue. `refuse` closes the listener and
   * every connection (a dead node); any other mode re-listens on the same port. Await it.
   */
  setMode(mode: FaultMode): Promise<void>;
  /**
   * Queues modes consumed one per incoming RPC request, before the global mode applies again.
   * `reset-on-accept` is consumed by the next accepted connection (a health probe's too), or by
   * the next request on an already open keep-alive connection, which it resets.
   * `refuse` cannot be queued (a refused connection is never seen): use `setMode`.
   */
  enqueue(...modes: FaultMode[]): void;
  /** Drops every queued mode. */
  clearQueue(): void;
  /** `setMode('refuse')`. */
  refuse(): Promise<void>;
  /** Listens again on the same port with mode `ok`. */
  resume(): Promise<void>;
  /** Changes the identity on later answers (simulates a failover to another node or term). */
  setNode(name: string, epoch: number): void;
  /** Changes what `GET /health` reports. */
  setHealth(status: NodeStatus): void;
  /** Turns deduplication (and its `X-Hotcold-Dedup` header) on or off. */
  setDedup(enabled: boolean): void;
  /** Replaces the handler (`undefined`: echo). */
  setHandler(handler: FaultHandler | undefined): void;
  /** Forgets the recorded requests. */
  clearRequests(): void;
  /**
   * Resolves with the next record as soon as the request has been read — before the handler
   * finishes and before `outcome` is final (default timeout 5 s).
   */
  nextRequest(timeoutMs?: number): Promise<FaultRequestRecord>;
  /** Destroys every socket and timer; resolves once the port is free. */
  close(): Promise<void>;
}

const NODE_STATUSES: readonly NodeStatus[] = ['active', 'standby', 'draining', 'lost'];
const OPTION_KEYS = ['node', 'epoch', 'mode', 'handler', 'dedup', 'health', 'rpcPath', 'healthPath', 'maxRecords'];
const HUGE_DEFAULT = 11 * 1024 * 1024;
const HUGE_CHUNK = Buffer.alloc(64 * 1024, 0x78);

interface Executed {
  result?: unknown;
  error?: JsonRpcErrorObject;
}

interface Waiter {
  resolve(record: FaultRequestRecord): void;
  reject(error: Error): void;
  timer: TimerHandle;
}

/** An HTTP header name (RFC 9110 token). */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/**
 * A mode, checked where it is given: what it puts into the answer's headers (`retryAfter`,
 * `headers`) must be header text, or Node threw `ERR_INVALID_CHAR` from inside the request
 * listener when the fault was served — an uncaught exception in the test process.
 */
function checkMode(field: string, mode: unknown): FaultSpec {
  if (typeof mode === 'string') return { mode: requireOneOf(field, mode, ALL_FAULT_MODES) };
  const spec = requireObject(field, mode);
  requireOneOf(`${field}.mode`, spec.mode, ALL_FAULT_MODES);
  if (spec.retryAfter !== undefined) requireHeaderText(spec.retryAfter, `${field}.retryAfter`);
  if (spec.headers !== undefined) {
    for (const [name, value] of Object.entries(requireObject(`${field}.headers`, spec.headers))) {
      if (!HEADER_NAME.test(name)) throw new ConfigurationError(`${field}.headers`, 'has a header name that is not an HTTP token');
      requireHeaderText(value, `${field}.headers.${name}`);
    }
  }
  return spec as unknown as FaultSpec;
}

function firstHeader(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Starts a JSON-RPC server on loopback that misbehaves on demand: every way a node, proxy or
 * balancer can fail (see {@link FaultModeName}), chosen globally (`setMode`) or per request
 * (`enqueue`), with a record of every request and whether it executed. For tests of code that
 * uses the client.
 *
 * @param options - Identity, initial mode, handler, paths; see {@link FaultServerOptions}.
 * @throws {ConfigurationError} when an option is invalid (naming the field), e.g. a `node` name or a mode's header text that is no visible ASCII.
 * @example
 * ```ts
 * import { createClient } from 'hotcold';
 * import { startFaultServer } from 'hotcold/testing';
 *
 * const server = await startFaultServer({ handler: (method) => (method === 'ping' ? 'pong' : null) });
 * server.enqueue('reset-after-request'); // the first attempt's answer is lost; ping is retried
 * const client = createClient({ url: server.url, methods: { ping: { idempotent: true } } });
 * console.log(await client.call('ping'), server.requests.length); // 'pong' 2
 * await client.close();
 * await server.close();
 * ```
 */
export async function startFaultServer(options: FaultServerOptions = {}): Promise<FaultServer> {
  requireObject('options', options);
  rejectUnknownKeys('', options, OPTION_KEYS);
  // Sent as X-Hotcold-Node on every answer.
  let node = options.node === undefined ? 'fault-node' : requireHeaderText(requireNonEmptyString('node', options.node), 'node');
  let epoch = options.epoch === undefined ? 1 : requireNonNegativeInteger('epoch', options.epoch);
  let mode: FaultSpec = checkMode('mode', options.mode ?? 'ok');
  let handler = options.handler;
  if (handler !== undefined && typeof handler !== 'function') throw new ConfigurationError('handler', 'must be a function');
  let dedup = options.dedup ?? false;
  let health: NodeStatus = requireOneOf('health', options.health ?? 'active', NODE_STATUSES);
  const rpcPath = options.rpcPath === undefined ? DEFAULT_RPC_PATH : requireNonEmptyString('rpcPath', options.rpcPath);
  const healthPath =
    options.healthPath === undefined ? DEFAULT_HEALTH_PATH : requireNonEmptyString('healthPath', options.healthPath);
  const maxRecords = options.maxRecords === undefined ? 10_000 : requireNonNegativeInteger('maxRecords', options.maxRecords);

  const queue: FaultSpec[] = [];
  const records: FaultRequestRecord[] = [];
  const sockets = new Set<Socket>();
  const timers = new Set<TimerHandle>();
  const waiters: Waiter[] = [];
  const dedupResults = new Map<string, Executed>();
  const connectionIds = new WeakMap<Socket, number>();
  let connections = 0;
  let seq = 0;
  let healthRequests = 0;
  let listening = false;
  let closed = false;
  let nodeHeaders = makeNodeHeaders();

  function makeNodeHeaders(): Record<string, string> {
    const h: Record<string, string> = { [HEADER_NODE]: node, [HEADER_EPOCH]: String(epoch) };
    if (dedup) h[HEADER_DEDUP] = '1';
    return h;
  }

  function later(ms: number, fn: () => void): void {
    const timer = setTimer(() => {
      timers.delete(timer);
      fn();
    }, ms);
    timers.add(timer);
  }

  function record(entry: Omit<FaultRequestRecord, 'seq' | 'node' | 'epoch'>): FaultRequestRecord {
    const full: FaultRequestRecord = { seq: ++seq, node, epoch, ...entry };
    if (maxRecords > 0) {
      records.push(full);
      if (records.length > maxRecords + 1000) records.splice(0, records.length - maxRecords);
    }
    if (waiters.length > 0) {
      for (const w of waiters.splice(0)) {
        w.timer.clear();
        w.resolve(full);
      }
    }
    return full;
  }

  function nextSpec(): FaultSpec {
    return queue.length > 0 ? (queue.shift() as FaultSpec) : mode;
  }

  const server = http.createServer((req, res) => onRequest(req, res));
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    connectionIds.set(socket, ++connections);
    socket.once('close', () => sockets.delete(socket));
    const head = queue.length > 0 ? queue[0] : mode;
    if (head?.mode === 'reset-on-accept') {
      if (queue.length > 0) queue.shift();
      record({
        mode: 'reset-on-accept',
        method: undefined,
        id: undefined,
        params: undefined,
        idempotencyKey: undefined,
        attempt: undefined,
        authorization: undefined,
        headers: {},
        connection: connections,
        executed: false,
        outcome: 'reset',
      });
      socket.resetAndDestroy();
    }
  });
  // A reset or garbled client must not make the server answer 400 into a dead socket.
  server.on('clientError', (_error, socket) => socket.destroy());

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    if (req.method === 'POST' && path === rpcPath) {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => {
        body += chunk;
      });
      req.on('end', () => {
        void onRpc(req, res, body);
      });
      return;
    }
    if (req.method === 'GET' && path === healthPath) {
      healthRequests++;
      // A global outage mode is what a probe through the balancer would see too.
      if (mode.mode === 'balancer-503') return sendHtml(res, 503, BALANCER_503_BODY, mode.retryAfter, NOT_FORWARDED);
      if (mode.mode === '502') return sendHtml(res, 502, BALANCER_502_BODY, undefined);
      if (mode.mode === '504') return sendHtml(res, 504, BALANCER_504_BODY, undefined);
      const status = mode.mode === 'not-active' ? (mode.status503 ?? 'standby') : health;
      sendJson(res, status === 'active' ? 200 : 503, JSON.stringify({ status, node, epoch }), nodeHeaders);
      return;
    }
    req.resume();
    sendJson(res, 404, '{"error":"NOT_FOUND"}', nodeHeaders);
  }

  async function onRpc(req: IncomingMessage, res: ServerResponse, body: string): Promise<void> {
    const spec = nextSpec();
    const m = spec.mode;
    const headers = req.headers;
    const attemptHeader = firstHeader(headers[HEADER_ATTEMPT]);
    const attemptNumber = attemptHeader === undefined ? Number.NaN : Number(attemptHeader);
    const meta: FaultRequestMeta = {
      id: undefined,
      idempotencyKey: firstHeader(headers[HEADER_IDEMPOTENCY_KEY]),
      attempt: Number.isSafeInteger(attemptNumber) ? attemptNumber : undefined,
      authorization: headers.authorization,
      headers,
      node,
      epoch,
    };
    let rpc: { method?: unknown; params?: unknown; id?: unknown; jsonrpc?: unknown } | undefined;
    try {
      const parsed: unknown = JSON.parse(body);
      if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) rpc = parsed;
    } catch {
      rpc = undefined;
    }
    const id =
      typeof rpc?.id === 'string' || typeof rpc?.id === 'number' || rpc?.id === null ? rpc.id : undefined;
    meta.id = id;
    const method = typeof rpc?.method === 'string' ? rpc.method : undefined;
    const entry: Omit<FaultRequestRecord, 'seq' | 'node' | 'epoch'> = {
      mode: m,
      method,
      id,
      params: rpc?.params,
      idempotencyKey: meta.idempotencyKey,
      attempt: meta.attempt,
      authorization: meta.authorization,
      headers,
      connection: connectionIds.get(req.socket) ?? 0,
      executed: false,
      outcome: 'answered',
    };

    if (m === 'reset-on-accept' || m === 'refuse') {
      // The request arrived on a connection opened before the mode changed: it was read, so the
      // client cannot know it did not run; it did not.
      entry.outcome = 'reset';
      record(entry);
      req.socket.resetAndDestroy();
      return;
    }

    if (rpc === undefined || method === undefined || rpc.jsonrpc !== '2.0') {
      entry.outcome = 'invalid-request';
      record(entry);
      const code = rpc === undefined ? -32700 : -32600;
      const message = rpc === undefined ? 'Parse error' : 'Invalid Request';
      sendJson(res, 200, JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: { code, message } }), nodeHeaders);
      return;
    }

    const runs = NEVER_EXECUTED.has(m) ? false : EXECUTION_DEFAULTS.has(m) ? (spec.executed ?? EXECUTION_DEFAULTS.get(m) === true) : true;
    let outcome: Executed = {};
    if (runs) {
      const key = meta.idempotencyKey;
      const stored = dedup && key !== undefined ? dedupResults.get(key) : undefined;
      if (stored !== undefined) {
        entry.outcome = 'deduplicated';
        outcome = stored;
      } else {
        entry.executed = true;
        const r = record(entry);
        outcome = await execute(method, rpc.params, meta);
        if (dedup && key !== undefined) dedupResults.set(key, outcome);
        respond(req, res, spec, id, outcome, r);
        return;
      }
    }
    const r = record(entry);
    respond(req, res, spec, id, outcome, r);
  }

  async function execute(method: string, params: unknown, meta: FaultRequestMeta): Promise<Executed> {
    if (handler === undefined) return { result: { method, params } };
    try {
      return { result: await handler(method, params, meta) };
    } catch (error) {
      const e = error as { code?: unknown; message?: unknown; data?: unknown };
      if (typeof e?.code === 'number') {
        const err: JsonRpcErrorObject = { code: e.code, message: typeof e.message === 'string' ? e.message : 'error' };
        if (e.data !== undefined) err.data = e.data;
        return { error: err };
      }
      return { error: { code: -32603, message: 'Internal error' } };
    }
  }

  function answerBody(id: JsonRpcId | null | undefined, outcome: Executed): string {
    return outcome.error !== undefined
      ? JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error: outcome.error })
      : JSON.stringify({ jsonrpc: '2.0', id: id ?? null, result: outcome.result ?? null });
  }

  function respond(
    req: IncomingMessage,
    res: ServerResponse,
    spec: FaultSpec,
    id: JsonRpcId | null | undefined,
    outcome: Executed,
    rec: FaultRequestRecord,
  ): void {
    if (res.destroyed || closed) return;
    switch (spec.mode) {
      case 'ok':
        if (spec.delayMs !== undefined && spec.delayMs > 0) {
          later(spec.delayMs, () => {
            if (!res.destroyed) sendJson(res, 200, answerBody(id, outcome), nodeHeaders);
          });
        } else {
          sendJson(res, 200, answerBody(id, outcome), nodeHeaders);
        }
        return;
      case 'reset-after-request':
        rec.outcome = 'reset';
        req.socket.resetAndDestroy();
        return;
      case 'balancer-503':
        sendHtml(res, 503, BALANCER_503_BODY, spec.retryAfter, NOT_FORWARDED);
        return;
      case 'proxy-503':
        sendText(res, 503, PROXY_503_BODY);
        return;
      case '502':
        sendHtml(res, 502, BALANCER_502_BODY, undefined);
        return;
      case '504':
        sendHtml(res, 504, BALANCER_504_BODY, undefined);
        return;
      case 'not-active': {
        const body = JSON.stringify({
          error: 'NOT_ACTIVE',
          status: spec.status503 ?? 'standby',
          node,
          epoch,
          message: 'this node does not hold the lease',
        });
        sendJson(res, 503, body, { ...nodeHeaders, 'retry-after': spec.retryAfter ?? '1' });
        return;
      }
      case 'stall':
        rec.outcome = 'stalled';
        return;
      case 'headers-then-silence':
        rec.outcome = 'headers-only';
        res.writeHead(200, { ...nodeHeaders, 'content-type': 'application/json', 'content-length': '100' });
        res.flushHeaders();
        return;
      case 'trickle': {
        rec.outcome = 'trickled';
        const bytes = Buffer.from(answerBody(id, outcome));
        res.writeHead(200, { ...nodeHeaders, 'content-type': 'application/json', 'content-length': String(bytes.length) });
        res.flushHeaders();
        const interval = spec.intervalMs ?? 50;
        let i = 0;
        const step = (): void => {
          if (res.destroyed || closed) return;
          if (i >= bytes.length) {
            res.end();
            return;
          }
          res.write(bytes.subarray(i, i + 1));
          i++;
          later(interval, step);
        };
        later(interval, step);
        return;
      }
      case 'truncated': {
        rec.outcome = 'truncated';
        const bytes = Buffer.from(answerBody(id, outcome));
        res.writeHead(200, {
          ...nodeHeaders,
          'content-type': 'application/json',
          'content-length': String(bytes.length + 100),
        });
        res.write(bytes, () => req.socket.end());
        return;
      }
      case 'garbage':
        sendRaw(res, 200, spec.body ?? 'this is <not> json {', { ...nodeHeaders, 'content-type': 'application/json' });
        return;
      case 'not-jsonrpc':
        sendJson(res, 200, JSON.stringify({ status: 'ok', value: outcome.result ?? null }), nodeHeaders);
        return;
      case 'id-mismatch':
        sendJson(res, 200, answerBody(otherId(id), outcome), nodeHeaders);
        return;
      case 'huge':
        sendHuge(res, id, spec.bytes ?? HUGE_DEFAULT, spec.chunked === true);
        return;
      case 'rpc-error': {
        const error: JsonRpcErrorObject = {
          code: spec.code ?? -32000,
          message: spec.message ?? 'fault server error',
          data: 'data' in spec ? spec.data : { fault: true },
        };
        sendJson(res, 200, JSON.stringify({ jsonrpc: '2.0', id: id ?? null, error }), nodeHeaders);
        return;
      }
      case 'unauthorized':
        sendJson(res, 401, '{"error":"UNAUTHORIZED"}', { ...nodeHeaders, 'www-authenticate': 'Basic realm="hotcold"' });
        return;
      case 'forbidden':
        sendJson(res, 403, '{"error":"FORBIDDEN"}', nodeHeaders);
        return;
      case 'raw':
        sendRaw(res, spec.status ?? 200, spec.body ?? '', {
          ...(spec.nodeHeaders === false ? {} : nodeHeaders),
          ...spec.headers,
        });
        return;
      case 'refuse':
      case 'reset-on-accept':
        // Handled before execution; listed so the switch is exhaustive.
        return;
    }
  }

  function sendJson(res: ServerResponse, status: number, body: string, extra: Record<string, string>): void {
    res.writeHead(status, { ...extra, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  }

  function sendRaw(res: ServerResponse, status: number, body: string | Uint8Array, extra: Record<string, string>): void {
    const bytes = typeof body === 'string' ? Buffer.from(body) : body;
    res.writeHead(status, { ...extra, 'content-length': String(bytes.length) });
    res.end(bytes);
  }

  function sendText(res: ServerResponse, status: number, body: string): void {
    res.writeHead(status, { 'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)) });
    res.end(body);
  }

  function sendHtml(
    res: ServerResponse,
    status: number,
    body: string,
    retryAfter: string | undefined,
    extra: Readonly<Record<string, string>> = {},
  ): void {
    const headers: Record<string, string> = {
      ...extra,
      'content-type': 'text/html',
      'cache-control': 'no-cache',
      connection: 'close',
      'content-length': String(Buffer.byteLength(body)),
    };
    if (retryAfter !== undefined) headers['retry-after'] = retryAfter;
    res.writeHead(status, headers);
    res.end(body);
  }

  function sendHuge(res: ServerResponse, id: JsonRpcId | null | undefined, total: number, chunked: boolean): void {
    const prefix = Buffer.from(`{"jsonrpc":"2.0","id":${JSON.stringify(id ?? null)},"result":"`);
    const suffix = Buffer.from('"}');
    let remaining = Math.max(0, total - prefix.length - suffix.length);
    const headers: Record<string, string> = { ...nodeHeaders, 'content-type': 'application/json' };
    if (!chunked) headers['content-length'] = String(prefix.length + remaining + suffix.length);
    res.writeHead(200, headers);
    res.write(prefix);
    const pump = (): void => {
      while (remaining > 0) {
        if (res.destroyed || closed) return;
        const n = Math.min(remaining, HUGE_CHUNK.length);
        remaining -= n;
        if (!res.write(n === HUGE_CHUNK.length ? HUGE_CHUNK : HUGE_CHUNK.subarray(0, n))) {
          res.once('drain', pump);
          return;
        }
      }
      if (!res.destroyed) res.end(suffix);
    };
    pump();
  }

  function listen(port: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onError = (error: Error): void => reject(error);
      server.once('error', onError);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', onError);
        listening = true;
        resolve();
      });
    });
  }

  /** Destroys every open socket and resolves once each has emitted 'close'. */
  function destroySockets(): Promise<void> {
    const pending = [...sockets].map(
      (s) =>
        new Promise<void>((resolve) => {
          if (s.closed) resolve();
          else s.once('close', () => resolve());
          s.destroy();
        }),
    );
    return Promise.all(pending).then(() => undefined);
  }

  async function stopListening(): Promise<void> {
    if (listening) {
      listening = false;
      const closedServer = new Promise<void>((resolve) => server.close(() => resolve()));
      await destroySockets();
      await closedServer;
    }
    await destroySockets();
  }

  await listen(0);
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('fault server has no TCP address');
  const port = address.port;
  const url = `http://127.0.0.1:${port}`;

  const api: FaultServer = {
    url,
    port,
    rpcUrl: `${url}${rpcPath}`,
    get mode() {
      return mode;
    },
    get node() {
      return node;
    },
    get epoch() {
      return epoch;
    },
    get requests() {
      return records;
    },
    get healthRequests() {
      return healthRequests;
    },
    get openConnections() {
      return sockets.size;
    },
    get queued() {
      return queue.length;
    },
    async setMode(next) {
      if (closed) throw new Error('fault server is closed');
      const spec = checkMode('mode', next);
      mode = spec;
      if (spec.mode === 'refuse') {
        await stopListening();
        return;
      }
      if (!listening) await listen(port);
      // Idle keep-alive sockets would carry the next request past the accept step.
      if (spec.mode === 'reset-on-accept') server.closeIdleConnections();
    },
    enqueue(...modes) {
      for (const m of modes) {
        const spec = checkMode('mode', m);
        if (spec.mode === 'refuse') throw new ConfigurationError('mode', "'refuse' cannot be queued; use setMode('refuse')");
        queue.push(spec);
      }
    },
    clearQueue() {
      queue.length = 0;
    },
    refuse() {
      return api.setMode('refuse');
    },
    resume() {
      return api.setMode('ok');
    },
    setNode(name, nextEpoch) {
      node = requireHeaderText(requireNonEmptyString('node', name), 'node');
      epoch = requireNonNegativeInteger('epoch', nextEpoch);
      nodeHeaders = makeNodeHeaders();
    },
    setHealth(status) {
      health = requireOneOf('health', status, NODE_STATUSES);
    },
    setDedup(enabled) {
      dedup = enabled;
      nodeHeaders = makeNodeHeaders();
    },
    setHandler(next) {
      if (next !== undefined && typeof next !== 'function') throw new ConfigurationError('handler', 'must be a function');
      handler = next;
    },
    clearRequests() {
      records.length = 0;
    },
    nextRequest(timeoutMs = 5000) {
      requirePositiveInteger('timeoutMs', timeoutMs);
      return new Promise<FaultRequestRecord>((resolve, reject) => {
        const waiter: Waiter = {
          resolve,
          reject,
          timer: setTimer(() => {
            const i = waiters.indexOf(waiter);
            if (i !== -1) waiters.splice(i, 1);
            reject(new Error(`no request reached the fault server within ${timeoutMs} ms`));
          }, timeoutMs),
        };
        waiters.push(waiter);
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const t of timers) t.clear();
      timers.clear();
      for (const w of waiters.splice(0)) {
        w.timer.clear();
        w.reject(new Error('fault server closed'));
      }
      await stopListening();
    },
  };
  return api;
}
