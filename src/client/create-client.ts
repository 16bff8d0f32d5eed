/**
 * `createClient(options)`: the JSON-RPC adapter over the protocol-neutral pipeline
 * (src/pipeline). The pipeline runs every rule of DESIGN §2–§3; this file supplies what only the
 * wire knows: one attempt is one `transport.send` (whose failures are already classified
 * RPCExceptions, see transport/classify.ts), the answer's `X-Hotcold-*` identity, the reconnect
 * probe and the dedup proof (`GET /health`), and the client's secrets (auth, sensitive headers,
 * URL passwords) scrubbed from everything that leaves.
 */
import {
  ConnectionFailureException,
  ProtocolException,
  bindSecretScope,
  type RPCException,
} from '../errors.js';
import type { Observable } from 'rxjs';
import { Pipeline, type Attempt } from '../pipeline/pipeline.js';
import { defaultClassify } from '../pipeline/classify.js';
import type { ClassifyContext, ProbeResult } from '../pipeline/types.js';
import { CREDENTIAL_HEADER_NAME, redactDeep, SecretScope } from '../shared/redact.js';
import { boundedRun } from '../shared/bounded-run.js';
import { AttemptTimeouts, type TimedAttemptSignal } from './attempt-timeouts.js';
import { createAxiosTransport, type AxiosTransportOptions } from '../transport/index.js';
import type { HealthResult, Transport, TransportRequest, TransportResponse } from '../transport/types.js';
import { createFeed, type FeedParams, type FeedSubscribeOptions } from './feed.js';
import { resolveClientOptions, type ResolvedClientOptions } from './options.js';
import { createProxy } from './proxy.js';
import type {
  CallOptions,
  ClientEvent,
  ClientOptions,
  ConnectionState,
  FailoverEvent,
  FeedItem,
  HotcoldClient,
  ProxiedApi,
  ReconnectedEvent,
} from './types.js';

/** Header names whose values are credentials: scrubbed from every message like the auth option. */

/**
 * Creates a JSON-RPC client for a hot-cold pair behind a balancer (or an address pool). Every
 * call either resolves with the node's result or rejects with one `RPCException` subclass whose
 * `mayHaveExecuted` says truthfully whether it may have run; only what is safe to repeat is
 * retried (DESIGN §2). Close it with `close()`.
 *
 * @param options - `url` and the policy; see {@link ClientOptions} for every default.
 * @throws {ConfigurationError} naming the first invalid option.
 * @example
 * ```ts
 * import { createClient, RPCException } from 'hotcold';
 *
 * const client = createClient({
 *   url: 'http://balancer:8080',
 *   methods: { transfer: { idempotent: false }, balance: { idempotent: true } },
 * });
 * try {
 *   await client.call('transfer', { from: 'A', to: 'B', amount: 10 });
 * } catch (error) {
 *   if (error instanceof RPCException) console.error(error.kind, 'may have run:', error.mayHaveExecuted);
 * }
 * await client.close();
 * ```
 */
export function createClient(options: ClientOptions): HotcoldClient {
  return new Client(resolveClientOptions(options));
}

/** A transport's own failures are RPCExceptions; anything else it throws is a bug or a foreign error. */
function transportFailure(error: unknown, context: ClassifyContext): RPCException {
  // A transport of yours that ends its attempt when its signal aborts rejects with the signal's
  // reason: the attempt's timeout (TimeoutError) or the call's abort (AbortError), read as such.
  const name = (error as { name?: unknown } | null)?.name;
  if (name === 'TimeoutError' || name === 'AbortError') return defaultClassify(error, context);
  return new ProtocolException(`transport failed: ${error instanceof Error ? error.message : 'non-error thrown'}`, {
    method: context.name,
    attempts: context.attempt,
    cause: error,
  });
}

/** The JSON-RPC answer: its identity goes to the pipeline, its result to the caller. */
function resultOf(value: unknown, attempt: Attempt): unknown {
  // A transport of yours may resolve with anything: the caller gets an RPCException, not a TypeError.
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolException(`${attempt.name}: the transport resolved with no response object`, { method: attempt.name, attempts: attempt.attempt });
  }
  const response = value as TransportResponse;
  attempt.facts = response;
  return response.result;
}

/**
 * One attempt's request as the transport sees it: the attempt's fields, read through. The
 * idempotency key is read from the attempt only when the transport reads it (the wire always
 * does; an in-memory transport need not), so the call's key is made only then.
 */
class AttemptRequest implements TransportRequest {
  declare readonly baseUrl: string;
  declare readonly method: string;
  declare readonly params: unknown;
  declare readonly id: number;
  declare readonly attempt: number;
  declare readonly timeoutMs: number;
  declare readonly deadlineLeftMs: number;
  declare private readonly source: Attempt;
  /** A transport of yours: its signal also aborts at the attempt's timeout (made on first read). */
  declare private readonly timeouts: AttemptTimeouts | undefined;
  declare private timed: TimedAttemptSignal | undefined;
  /** The transport's answer, once `send` returned it: a timed signal made later is disposed when it settles. */
  declare private pending: Promise<unknown> | undefined;

  constructor(attempt: Attempt, params: unknown, id: number, timeouts: AttemptTimeouts | undefined) {
    this.baseUrl = attempt.backend;
    this.method = attempt.name;
    this.params = params;
    this.id = id;
    this.attempt = attempt.attempt;
    this.timeoutMs = attempt.timeoutMs;
    this.deadlineLeftMs = attempt.deadlineLeftMs;
    this.source = attempt;
    this.timeouts = timeouts;
    this.timed = undefined;
    this.pending = undefined;
  }

  get idempotencyKey(): string {
    return this.source.idempotencyKey;
  }

  /**
   * The call's signal for the built-in transport (it times its own attempts); for a transport of
   * yours one that also aborts at the attempt's timeout, as TransportRequest says — made when read.
   */
  get signal(): AbortSignal {
    const timeouts = this.timeouts;
    if (timeouts === undefined) return this.source.callSignal;
    if (this.timed === undefined) {
      const timed = timeouts.signalFor(this.source, this.source.callSignal, this.timeoutMs);
      this.timed = timed;
      this.pending?.then(timed.dispose.bind(timed), timed.dispose.bind(timed));
    }
    return this.timed.signal;
  }

  /** @internal The transport returned its answer: dispose the timed signal when it settles. */
  sent<T>(pending: Promise<T>): Promise<T> {
    this.pending = pending;
    const timed = this.timed;
    if (timed !== undefined) pending.then(timed.dispose.bind(timed), timed.dispose.bind(timed));
    return pending;
  }
}

class Client implements HotcoldClient {
  readonly state$: Observable<ConnectionState>;
  readonly events$: Observable<ClientEvent>;
  readonly failover$: Observable<FailoverEvent>;
  readonly reconnected$: Observable<ReconnectedEvent>;

  private readonly transport: Transport;
  private readonly pipeline: Pipeline;
  /** This client's literal secrets (auth, sensitive headers, URL passwords); cleared on close. */
  private readonly secrets = new SecretScope();
  private nextId = 0;

  constructor(options: ResolvedClientOptions) {
    if (options.auth !== undefined) {
      if ('bearer' in options.auth) this.secrets.add(options.auth.bearer);
      else {
        this.secrets.add(options.auth.password);
        this.secrets.add(Buffer.from(`${options.auth.username}:${options.auth.password}`, 'utf8').toString('base64'));
      }
    }
    for (const [name, value] of Object.entries(options.headers ?? {})) {
      if (CREDENTIAL_HEADER_NAME.test(name)) this.secrets.addHeaderValue(value);
    }
    for (const backend of options.backends) {
      const url = new URL(backend);
      if (url.password === '') continue;
      this.secrets.add(url.password);
      // axios sends URL userinfo as Basic credentials: that header value is a secret too.
      const basic = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
      this.secrets.add(Buffer.from(basic, 'utf8').toString('base64'));
    }

    const transport = options.transport ?? createAxiosTransport(transportOptions(options), this.secrets);
    this.transport = transport;
    this.send = options.transport === undefined ? this.sendBuiltIn : this.sendCustom;
    // The built-in transport ends a probe at its timeoutMs; a transport of yours need not, and a
    // probe that never settles would stall recovery for good (and a dedup proof, its call).
    const health =
      options.transport === undefined
        ? (backend: string, probe: ProbeOptions): Promise<HealthResult> => transport.health(backend, probe)
        : (backend: string, probe: ProbeOptions): Promise<HealthResult> => boundedHealth(transport, backend, probe);
    const pool = options.backends.length > 1;
    this.pipeline = new Pipeline(options, {
      classify: (error, context, attempt) => transportFailure(this.timeouts.reasonFor(attempt) ?? error, context),
      probe: async (backend, probe): Promise<ProbeResult> => {
        const answer = await health(backend, probe);
        return {
          ok: serves(answer, pool),
          node: answer.node ?? answer.body?.node,
          epoch: answer.epoch ?? answer.body?.epoch,
          status: answer.status,
          retryAfterMs: answer.status === 429 ? answer.retryAfterMs : undefined,
          backPressure: answer.status === 429,
        };
      },
      proveDedup: async (backend, probe): Promise<ProbeResult> => {
        const answer = await health(backend, probe);
        const paced = answer.status === 429;
        return { ok: answer.ok, status: answer.status, node: answer.node, epoch: answer.epoch, dedup: answer.dedup, backPressure: paced, retryAfterMs: paced ? answer.retryAfterMs : undefined };
      },
      // The transport ends each attempt: the built-in one at its timeoutMs and on the call's
      // signal; a transport of yours when its signal aborts, which it also does at the attempt's
      // timeout (attempt-timeouts.ts).
      attemptTimeout: 'adapter',
      resultOf,
      // What a server sent (a node name, a message) leaves only scrubbed of this client's secrets.
      scrub: <T>(value: T): T => (this.secrets.empty ? value : (redactDeep(value, this.secrets) as T)),
      noun: 'client',
      nameField: 'method',
    });
    this.state$ = this.pipeline.state$;
    this.events$ = this.pipeline.events$;
    this.failover$ = this.pipeline.failover$;
    this.reconnected$ = this.pipeline.reconnected$;
  }

  get state(): ConnectionState {
    return this.pipeline.state;
  }

  get closed(): boolean {
    return this.pipeline.closed;
  }

  /** One attempt: one JSON-RPC request (a bound field: no closure per call). */
  private readonly sendBuiltIn = (attempt: Attempt, params: unknown): Promise<TransportResponse> =>
    this.transport.send(new AttemptRequest(attempt, params, ++this.nextId, undefined));

  /** One attempt through a transport of yours: its signal aborts at the attempt's timeout too. */
  private readonly sendCustom = (attempt: Attempt, params: unknown): Promise<TransportResponse> => {
    const request = new AttemptRequest(attempt, params, ++this.nextId, this.timeouts);
    return request.sent(Promise.resolve(this.transport.send(request)));
  };

  private readonly send: (attempt: Attempt, params: unknown) => Promise<TransportResponse>;
  /** The timed signals of a transport of yours' attempts (see attempt-timeouts.ts). */
  private readonly timeouts = new AttemptTimeouts();

  call<T = unknown>(method: string, params?: unknown, options?: CallOptions): Promise<T> {
    const result = this.pipeline.run(this.send, params, method, options) as Promise<unknown> as Promise<T>;
    // Without literal secrets the patterns applied at construction are all there is to do, and
    // the success path pays nothing; with them, every error leaving the client is bound to them.
    return this.secrets.empty ? result : result.catch(this.bindSecrets);
  }

  private readonly bindSecrets = (error: unknown): never => {
    throw bindSecretScope(error, this.secrets);
  };

  proxy<Api extends object>(): ProxiedApi<Api> {
    return createProxy<Api>((method, params, options) => this.call(method, params, options));
  }

  feed<T = unknown>(name: string, params?: FeedParams, options?: FeedSubscribeOptions): Observable<FeedItem<T>> {
    // createFeed checks its arguments now (a ConfigurationError is thrown here, not emitted) and
    // returns a cold Observable: nothing is polled before someone subscribes.
    return createFeed<T>(this, name, params, options);
  }

  close(): Promise<void> {
    return this.pipeline.closeWith(async () => {
      await this.transport.close();
      this.timeouts.close();
      this.secrets.clear();
    });
  }
}

/** What a probe of the pipeline hands the transport's `health`. */
interface ProbeOptions {
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/**
 * A transport of yours' `health`, ended at its `timeoutMs` and on the probe's signal even if it
 * ignores both: it gets a signal of its own that aborts then. Probes run on the failure path
 * only, so a timer each is fine.
 */
function boundedHealth(transport: Transport, backend: string, probe: ProbeOptions): Promise<HealthResult> {
  return boundedRun(
    (signal) => transport.health(backend, { timeoutMs: probe.timeoutMs, signal }),
    probe.timeoutMs,
    probe.signal,
    () => new ConnectionFailureException(`health probe timed out after ${probe.timeoutMs} ms`),
  );
}

/**
 * Whether a health answer means "send calls here". Through a balancer, any HTTP answer other
 * than a 5xx shows the path works (a plain JSON-RPC server may have no `/health` and say 404);
 * in an address pool the member must say it is active, as the standby answers too.
 */
function serves(health: HealthResult, pool: boolean): boolean {
  if (health.ok) return true;
  if (pool) return false;
  return health.status >= 400 && health.status < 500 && health.status !== 429;
}

function transportOptions(options: ResolvedClientOptions): AxiosTransportOptions {
  const out: AxiosTransportOptions = {
    rpcPath: options.rpcPath,
    healthPath: options.healthPath,
    maxResponseBytes: options.maxResponseBytes,
  };
  if (options.axios !== undefined) out.axios = options.axios;
  if (options.headers !== undefined) out.headers = { ...options.headers };
  if (options.auth !== undefined) out.auth = options.auth;
  if (options.idleSocketTimeoutMs !== undefined) out.idleSocketTimeoutMs = options.idleSocketTimeoutMs;
  return out;
}
