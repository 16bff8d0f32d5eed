/**
 * The default {@link Transport}: JSON-RPC 2.0 over HTTP with axios, on a keep-alive agent it owns
 * (or on the caller's own axios instance). It never retries; every failure is classified by
 * `classify` from what the socket actually did.
 */
import http from 'node:http';
import https from 'node:https';
import type { IncomingHttpHeaders } from 'node:http';
import axios from 'axios';
import type { AxiosInstance, AxiosRequestConfig, Method } from 'axios';
import { injectTraceHeaders } from '../observability/propagation.js';
import { bindSecretScope, CallAbortedException, ClientClosedException, ConfigurationError, ConnectionFailureException } from '../errors.js';
import { redactUrl, SecretScope } from '../shared/redact.js';
import { requireHttpUrl } from '../shared/validate.js';
import { HEADER_DEDUP, HEADER_EPOCH, HEADER_NODE, HEADER_NOT_FORWARDED, type HealthBody, type NodeStatus } from '../wire.js';
import { Attempt, type AttemptOwner, type EndReason } from './attempt.js';
import { InflightAttempts } from '../shared/inflight.js';
import { classify, parseEpoch, type AnswerHeaders, type ClassifyContext } from './classify.js';
import { parseRetryAfter } from './retry-after.js';
import { resolveTransportOptions, type AxiosTransportOptions } from './options.js';
import type { HealthResult, Transport, TransportRequest, TransportResponse } from './types.js';

/** The JSON-RPC-over-HTTP {@link Transport} that {@link createAxiosTransport} returns. */
export interface AxiosTransport extends Transport {
  /** The axios instance in use (yours, or the one the transport created). */
  readonly axios: AxiosInstance;
}

interface Target {
  rpcUrl: string;
  healthUrl: string;
  /** The base URL without credentials, for messages. */
  label: string;
}

type HeaderBag = IncomingHttpHeaders | Record<string, unknown>;

const PASS_THROUGH = [(data: unknown): unknown => data];
const NODE_STATUSES: ReadonlySet<string> = new Set<NodeStatus>(['active', 'standby', 'draining', 'lost']);
// Printable ASCII only: the key goes into a header, and the wire contract caps it at 200.
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,200}$/;
const MAX_TARGETS = 1000;

function first(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return value[0];
  return undefined;
}

function answerHeaders(h: HeaderBag): AnswerHeaders {
  return {
    node: first(h[HEADER_NODE]),
    epoch: first(h[HEADER_EPOCH]),
    retryAfter: first(h['retry-after']),
    dedup: first(h[HEADER_DEDUP]),
    notForwarded: first(h[HEADER_NOT_FORWARDED]),
  };
}

/**
 * The default transport of {@link createClient}: JSON-RPC over HTTP with axios, one POST per
 * attempt with the wire contract's headers (DESIGN §1), and every failure classified into an
 * `RPCException` that says whether the call may have run. Pass it as `transport` to share one
 * transport, or use it to talk to a node without the client's policy. Close it with `close()`.
 *
 * @param options - Endpoints, credentials, limits; see {@link AxiosTransportOptions}.
 * @param secrets - For hotcold's own client: the scope its credentials are scrubbed in. Leave it out.
 * @throws {ConfigurationError} when an option is invalid (naming the field).
 * @example
 * ```ts
 * import { createAxiosTransport, createClient } from 'hotcold';
 *
 * const transport = createAxiosTransport({ rpcPath: '/rpc', auth: { bearer: 'token' } });
 * const client = createClient({ url: 'http://balancer:8080', transport });
 * await client.close();
 * await transport.close();
 * ```
 */
export function createAxiosTransport(options: AxiosTransportOptions = {}, secrets = new SecretScope()): AxiosTransport {
  const o = resolveTransportOptions(options);
  for (const secret of o.secrets) secrets.addHeaderValue(secret);
  const ownsAgents = o.axios === undefined;
  // `timeout` on an agent closes its idle (free) sockets only, and lets a server's shorter
  // `Keep-Alive: timeout=` hint win: the client closes before the server can race it.
  const agentOptions = { keepAlive: o.keepAlive, scheduling: 'lifo' as const, timeout: o.idleSocketTimeoutMs };
  const httpAgent = ownsAgents ? new http.Agent(agentOptions) : undefined;
  const httpsAgent = ownsAgents ? new https.Agent(agentOptions) : undefined;
  const instance = o.axios ?? axios.create({ httpAgent, httpsAgent });
  const owner: AttemptOwner = { maxResponseBytes: o.maxResponseBytes, inflight: new InflightAttempts<Attempt>() };
  const targets = new Map<string, Target>();
  const healthHeaders: Record<string, string> = { ...o.headers };
  delete healthHeaders['Content-Type'];
  let closed = false;

  const staticHeaders = Object.entries(o.headers);
  const maxContentLength = o.maxResponseBytes;

  /**
   * One request's axios config: the settings every request needs whatever the instance's
   * defaults say, written out in full. Not `{ ...base, url, … }`: in Node 20's V8 an object
   * spread followed by more properties costs microseconds per call (measured: ~3 µs for two
   * properties, ~15 µs for this config), more than the rest of the attempt together.
   */
  function requestConfig(
    method: Method,
    url: string,
    data: string | undefined,
    headers: Record<string, string>,
    attempt: Attempt,
  ): AxiosRequestConfig {
    return {
      method,
      url,
      data,
      headers,
      // The Node http adapter is the one that hands its request to `transport`; with another
      // adapter the socket could not be watched and "not sent" could not be known.
      adapter: 'http',
      transport: attempt,
      maxRedirects: 0,
      responseType: 'text',
      responseEncoding: 'utf8',
      // The body is parsed once, by `classify`; axios neither serialises nor parses it.
      transformRequest: PASS_THROUGH,
      transformResponse: PASS_THROUGH,
      validateStatus: null,
      maxContentLength,
      timeout: 0,
    };
  }

  /** The static headers plus this call's own (no spread: see requestConfig). */
  function rpcHeaders(call: TransportRequest): Record<string, string> {
    const headers: Record<string, string> = {};
    for (const [name, value] of staticHeaders) headers[name] = value;
    headers['Idempotency-Key'] = call.idempotencyKey;
    headers['X-Hotcold-Attempt'] = String(call.attempt);
    // DESIGN §1: what is left of the caller's deadline, so a node does not start a call nobody
    // waits for any more (it answers 503 EXPIRED: not executed).
    headers['X-Hotcold-Timeout-Ms'] = timeoutHeader(call);
    // W3C trace context of the call (its span is active here when telemetry is on).
    injectTraceHeaders(headers);
    return headers;
  }

  function targetOf(baseUrl: string): Target {
    const known = targets.get(baseUrl);
    if (known !== undefined) return known;
    const url = requireHttpUrl('baseUrl', baseUrl);
    if (url.search !== '' || url.hash !== '') throw new ConfigurationError('baseUrl', 'must not have a query or fragment');
    if (url.password !== '') secrets.add(url.password);
    const root = baseUrl.replace(/\/+$/, '');
    const target: Target = { rpcUrl: root + o.rpcPath, healthUrl: root + o.healthPath, label: redactUrl(baseUrl) };
    if (targets.size >= MAX_TARGETS) targets.clear();
    targets.set(baseUrl, target);
    return target;
  }

  class RpcAttempt extends Attempt {
    constructor(
      private readonly call: TransportRequest,
      private readonly target: Target,
      private readonly resolve: (response: TransportResponse) => void,
      private readonly reject: (error: unknown) => void,
    ) {
      super(owner, call.signal);
    }

    private context(): ClassifyContext {
      const c = this.call;
      return { method: c.method, id: c.id, attempt: c.attempt, timeoutMs: c.timeoutMs, target: this.target.label };
    }

    protected onAnswer(status: number, headers: HeaderBag, body: string): void {
      const outcome = classify({ kind: 'answer', status, headers: answerHeaders(headers), body }, this.context());
      if (outcome.ok) this.resolve(outcome.response);
      else this.reject(outcome.error);
    }

    protected onFailure(reason: EndReason, cause: unknown): void {
      if (reason === 'closed') {
        this.reject(
          new ClientClosedException(`${this.call.method}: transport closed during the call`, {
            method: this.call.method,
            attempts: this.call.attempt,
            mayHaveExecuted: this.written,
          }),
        );
        return;
      }
      const headers = this.responseHeaders;
      const outcome = classify(
        {
          kind: 'failure',
          reason,
          written: this.written,
          responseStarted: this.responseStarted,
          status: this.responseStatus,
          headers: headers === undefined ? undefined : answerHeaders(headers),
          cause,
        },
        this.context(),
      );
      this.reject(outcome.ok ? new Error('unreachable') : outcome.error);
    }
  }

  class HealthAttempt extends Attempt {
    constructor(
      private readonly target: Target,
      private readonly resolve: (result: HealthResult) => void,
      private readonly reject: (error: unknown) => void,
      signal: AbortSignal | undefined,
    ) {
      super(owner, signal);
    }

    protected onAnswer(status: number, headers: HeaderBag, text: string): void {
      const body = parseHealthBody(text);
      const h = answerHeaders(headers);
      this.resolve({
        ok: status >= 200 && status < 300 && (body === undefined || body.status === 'active'),
        status,
        body,
        node: h.node ?? body?.node,
        epoch: parseEpoch(h.epoch) ?? body?.epoch,
        dedup: h.dedup === '1',
        retryAfterMs: status === 429 ? parseRetryAfter(h.retryAfter) : undefined,
      });
    }

    protected onFailure(reason: EndReason, cause: unknown): void {
      const where = this.target.label;
      if (reason === 'aborted') {
        this.reject(new CallAbortedException(`health probe of ${where} aborted`, { cause, mayHaveExecuted: false }));
      } else if (reason === 'closed') {
        this.reject(new ClientClosedException('transport closed during the health probe'));
      } else {
        const what = reason === 'timeout' ? 'timed out' : reason === 'too-large' ? 'answer too large' : 'failed';
        this.reject(new ConnectionFailureException(`health probe of ${where} ${what}`, { cause }));
      }
    }
  }

  const transport: AxiosTransport = {
    axios: instance,

    send(call: TransportRequest): Promise<TransportResponse> {
      if (closed) {
        return Promise.reject(
          new ClientClosedException('transport is closed', { method: call.method, attempts: call.attempt }),
        );
      }
      let target: Target;
      let data: string;
      try {
        target = targetOf(call.baseUrl);
        if (typeof call.idempotencyKey !== 'string' || !IDEMPOTENCY_KEY.test(call.idempotencyKey)) {
          throw new ConfigurationError('idempotencyKey', 'must be 1 to 200 printable ASCII characters');
        }
        data = JSON.stringify({ jsonrpc: '2.0', id: call.id, method: call.method, params: call.params });
      } catch (error) {
        if (error instanceof ConfigurationError) return Promise.reject(error);
        const outcome = classify(
          { kind: 'failure', reason: 'unserializable', written: false, responseStarted: false, cause: error },
          { method: call.method, id: call.id, attempt: call.attempt },
        );
        return Promise.reject(bindSecretScope(outcome.ok ? error : outcome.error, secrets));
      }
      return new Promise<TransportResponse>((resolve, reject) => {
        const attempt = new RpcAttempt(call, target, resolve, secrets.empty ? reject : (e: unknown) => reject(bindSecretScope(e, secrets)));
        if (!attempt.arm(call.timeoutMs)) return;
        dispatch(requestConfig('post', target.rpcUrl, data, rpcHeaders(call), attempt), attempt);
      });
    },

    health(baseUrl, opts): Promise<HealthResult> {
      if (closed) return Promise.reject(new ClientClosedException('transport is closed'));
      let target: Target;
      try {
        target = targetOf(baseUrl);
      } catch (error) {
        return Promise.reject(error);
      }
      return new Promise<HealthResult>((resolve, reject) => {
        const attempt = new HealthAttempt(target, resolve, (e: unknown) => reject(bindSecretScope(e, secrets)), opts.signal);
        if (!attempt.arm(opts.timeoutMs)) return;
        dispatch(requestConfig('get', target.healthUrl, undefined, healthHeaders, attempt), attempt);
      });
    },

    async close(): Promise<void> {
      if (closed) return;
      closed = true;
      for (const attempt of owner.inflight.snapshot()) attempt.fail('closed', undefined);
      owner.inflight.dispose();
      httpAgent?.destroy();
      httpsAgent?.destroy();
      secrets.clear();
    },
  };

  function dispatch(config: AxiosRequestConfig, attempt: Attempt): void {
    try {
      instance.request(config).then(
        (response) => attempt.onResponse(response),
        (error: unknown) => attempt.onError(error),
      );
    } catch (error) {
      // A throwing request interceptor: nothing was sent.
      attempt.onError(error);
    }
  }

  return transport;
}

/** The header's ceiling (2^31−1 ms, ~24.8 days: no limit in practice); a node refuses larger values. */
const MAX_TIMEOUT_HEADER_MS = 2_147_483_647;

/** Whole ms left of the call's deadline (the attempt's timeout when the caller gave none), in [1, 2^31−1]. */
function timeoutHeader(call: TransportRequest): string {
  const left = call.deadlineLeftMs ?? call.timeoutMs;
  if (!(left >= 1)) return '1';
  return String(left < MAX_TIMEOUT_HEADER_MS ? Math.floor(left) : MAX_TIMEOUT_HEADER_MS);
}

function parseHealthBody(text: string): HealthBody | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null) return undefined;
  const b = parsed as { status?: unknown; node?: unknown; epoch?: unknown };
  if (typeof b.status !== 'string' || !NODE_STATUSES.has(b.status)) return undefined;
  const body: HealthBody = { status: b.status as NodeStatus, node: typeof b.node === 'string' ? b.node : '' };
  if (typeof b.epoch === 'number' && Number.isSafeInteger(b.epoch) && b.epoch >= 0) body.epoch = b.epoch;
  return body;
}
