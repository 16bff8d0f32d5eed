/**
 * `attachPolicy(instance, options)`: every request of an existing axios instance goes through a
 * protocol-neutral policy (DESIGN §4). The instance's adapter is wrapped: axios still runs your
 * interceptors, transforms, headers, agent and defaults exactly as before; only the exchange
 * itself — the adapter call — becomes the attempts of one logical call. `detach()` puts the
 * original adapter back.
 */
import { injectTraceInto } from '../observability/propagation.js';
import axios, { AxiosError, AxiosHeaders } from 'axios';
import type { AxiosAdapter, AxiosInstance, AxiosResponse, InternalAxiosRequestConfig } from 'axios';
import { ConfigurationError, ProtocolException, RetriesExhaustedException, type RPCException } from '../errors.js';
import { parseRetryAfter } from '../shared/retry-after.js';
import { classifyFailure, type FailureReason } from './classify-failure.js';
import { classifyFailedAnswer, isAnswerStatus, readHotcoldHeaders } from './classify-response.js';
import { asAxiosCancel, callerCancel } from './caller-cancel.js';
import { SignalFanout } from '../shared/signal-fanout.js';
import { AttemptEvidence } from './evidence.js';
import { AttemptSignal } from './attempt-signal.js';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_KEY_PATTERN, isIdempotentMethod } from './http-semantics.js';
import { asRouteError, resolveAttachOptions, type AttachPolicyOptions, type ResolvedAttachOptions } from './options.js';
import { createAdapterPolicy, type AnswerFacts, type AttemptContext, type Policy, type ProbeContext, type ProbeResult } from './policy-api.js';
import type { ProxyEnv } from './proxy-env.js';
import { pathOf } from './routes.js';
import { readBodyText } from './response-body.js';

/** What {@link attachPolicy} returns. */
export interface AttachedPolicy {
  /** The policy every request of the instance goes through: `state$`, `events$`, `failover$`, … */
  readonly policy: Policy;
  /**
   * Restores the instance's own adapter (the instance is as it was before `attachPolicy`), then
   * closes the policy: requests still in flight end with `ClientClosedException`. Idempotent.
   * A property, not a method: it needs no `this`, so `const { policy, detach } = attachPolicy(…)` works.
   */
  readonly detach: () => Promise<void>;
}

/** Marks the wrapper, so a second attach to the same instance is refused. */
const WRAPPER = Symbol.for('hotcold.axios.attached');
/** A config flag the health probe sets: its request bypasses the policy. */
const PROBE_FLAG = 'hotcoldHealthProbe';

/** The header's ceiling (2^31−1 ms); a node refuses larger values. */
const MAX_TIMEOUT_HEADER_MS = 2_147_483_647;
/** Axios codes of a request that could not even be made: nothing was sent, and sending it again fails the same way. */
const NOT_SENDABLE = new Set(['ERR_BAD_OPTION_VALUE', 'ERR_BAD_OPTION', 'ERR_INVALID_URL', 'ERR_NOT_SUPPORT', 'ERR_DEPRECATED', 'ERR_FR_MAX_BODY_LENGTH_EXCEEDED']);

type Wrapped = AxiosAdapter & { [WRAPPER]?: true };

function isStream(data: unknown): boolean {
  return typeof data === 'object' && data !== null && typeof (data as { pipe?: unknown }).pipe === 'function';
}

function timeoutHeader(context: AttemptContext): string | undefined {
  const left = Number.isFinite(context.deadlineLeftMs) ? context.deadlineLeftMs : context.timeoutMs;
  if (!Number.isFinite(left)) return undefined;
  if (!(left >= 1)) return '1';
  return String(Math.min(Math.floor(left), MAX_TIMEOUT_HEADER_MS));
}

/**
 * axios's `timeout` as the attempt timeout, read as axios's http adapter reads it: unset, `null`
 * and 0 are none (the policy's `timeoutMs` applies), a number > 0 is that many ms, and a string
 * of digits the number axios parses from it. Anything else is no time, and guessing one would
 * change what the caller asked for (NaN and a negative became the policy's timeout, while axios
 * crashes the process on a negative one and refuses Infinity or 'abc' as a bad option).
 * @throws {ConfigurationError} naming `timeout`
 */
function axiosTimeout(value: unknown): number | undefined {
  if (value === undefined || value === null || value === 0) return undefined;
  if (typeof value === 'number' && value > 0 && value !== Number.POSITIVE_INFINITY) return value;
  if (typeof value === 'string' && /^[0-9]{1,15}$/.test(value)) return Number(value) > 0 ? Number(value) : undefined;
  throw new ConfigurationError('timeout', 'must be a number of milliseconds >= 0 (0: none), or a string of digits');
}

const ATTEMPT_HEADER = 'X-Hotcold-Attempt';
const TIMEOUT_HEADER = 'X-Hotcold-Timeout-Ms';

/**
 * `headers.set(ATTEMPT_HEADER, attempt)` and `headers.set(TIMEOUT_HEADER, left)` in one pass over
 * the names, per attempt on the success path. AxiosHeaders keeps each header as an own property
 * under its name and sends them as they are (its http adapter's `toJSON`); `set` lowercases the
 * name and every stored one (`findKey`) on each call, and sanitizes a value that here is digits
 * only. As `set` does: a name already there in another case is written under that name (the one
 * stored last, as `findKey` finds it), and a header set to `false` (axios's "do not send") stays.
 */
function setHotcoldHeaders(headers: AxiosHeaders, attempt: string, left: string | undefined): void {
  const record = headers as unknown as Record<string, unknown>;
  let attemptName: string | undefined;
  let timeoutName: string | undefined;
  const names = Object.keys(record);
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i] as string;
    // Only a name of the right length can match: the rest need no lowercase copy.
    if (name.length === ATTEMPT_HEADER.length) {
      if (attemptName === undefined && name.toLowerCase() === 'x-hotcold-attempt') attemptName = name;
    } else if (name.length === TIMEOUT_HEADER.length) {
      if (timeoutName === undefined && name.toLowerCase() === 'x-hotcold-timeout-ms') timeoutName = name;
    }
  }
  if (attemptName === undefined) record[ATTEMPT_HEADER] = attempt;
  else if (record[attemptName] !== false) record[attemptName] = attempt;
  if (left === undefined) return;
  if (timeoutName === undefined) record[TIMEOUT_HEADER] = left;
  else if (record[timeoutName] !== false) record[timeoutName] = left;
}

/**
 * Whether the hotcold headers can go on the ClientRequest instead of `headers`: these name neither
 * of them (in any case) nor Expect (with it Node writes the request head in the constructor).
 */
function requestMayCarry(headers: AxiosHeaders): boolean {
  const names = Object.keys(headers);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    const length = name.length;
    if (length === ATTEMPT_HEADER.length) {
      if (name.toLowerCase() === 'x-hotcold-attempt') return false;
    } else if (length === TIMEOUT_HEADER.length) {
      if (name.toLowerCase() === 'x-hotcold-timeout-ms') return false;
    } else if (length === 6 && name.toLowerCase() === 'expect') {
      return false;
    }
  }
  return true;
}

/**
 * `headers.get(name)` without a lowercase copy of every stored name: the value under the last
 * stored name that matches `name` case-insensitively, as axios's `findKey` finds it.
 */
function ownHeader(headers: AxiosHeaders, name: string): unknown {
  const record = headers as unknown as Record<string, unknown>;
  const lower = name.toLowerCase();
  const names = Object.keys(record);
  for (let i = names.length - 1; i >= 0; i--) {
    const stored = names[i] as string;
    if (stored.length === lower.length && stored.toLowerCase() === lower) return record[stored];
  }
  return undefined;
}

/**
 * The request's own `X-Hotcold-Timeout-Ms` (any case; the one axios would send, as
 * {@link ownHeader} finds it): what is left of its caller's deadline, in ms, which bounds the
 * call (`outerDeadlineMs`). undefined when it has none: absent, `null`/`undefined`, or `false`
 * (axios: do not send). A string of digits or a number, a whole number of ms from 0 to 2^31−1 (a
 * node refuses larger); anything else is the caller's bug, refused before anything is sent.
 * @throws {ConfigurationError} naming `headers.<name>` as the request spelled it
 */
function requestDeadlineMs(headers: AxiosHeaders): number | undefined {
  const record = headers as unknown as Record<string, unknown>;
  const names = Object.keys(record);
  for (let i = names.length - 1; i >= 0; i--) {
    const name = names[i] as string;
    if (name.length !== TIMEOUT_HEADER.length || name.toLowerCase() !== 'x-hotcold-timeout-ms') continue;
    const value = record[name];
    if (value === undefined || value === null || value === false) return undefined;
    const ms = typeof value === 'string' && /^[0-9]{1,10}$/.test(value) ? Number(value) : typeof value === 'number' && Number.isInteger(value) ? value : Number.NaN;
    if (!(ms >= 0 && ms <= MAX_TIMEOUT_HEADER_MS)) {
      throw new ConfigurationError(`headers.${name}`, `must be a whole number of milliseconds from 0 to ${MAX_TIMEOUT_HEADER_MS} (what is left of the caller's deadline)`);
    }
    return ms;
  }
  return undefined;
}

/**
 * An `Idempotency-Key` in the instance's defaults (top level, `common` or a method's) would be
 * the same on every request, and taken as each request's own: a deduplicating server would answer
 * every later request with the first one's result. The key is per call (DESIGN §1), so a fixed
 * one is refused; a key set on one request stays that request's own.
 * @throws {ConfigurationError} naming `defaults.headers[.<section>].<name>`
 */
function refuseFixedKey(headers: unknown): void {
  if (typeof headers !== 'object' || headers === null) return;
  const record = headers as Record<string, unknown>;
  for (const name of Object.keys(record)) {
    const value = record[name];
    if (typeof value === 'object' && value !== null) {
      for (const inner of Object.keys(value)) {
        const set = (value as Record<string, unknown>)[inner];
        if (inner.toLowerCase() === IDEMPOTENCY_KEY_LOWER && set !== undefined && set !== null && set !== false) {
          throw new ConfigurationError(`defaults.headers.${name}.${inner}`, FIXED_KEY);
        }
      }
    } else if (name.toLowerCase() === IDEMPOTENCY_KEY_LOWER && value !== undefined && value !== null && value !== false) {
      throw new ConfigurationError(`defaults.headers.${name}`, FIXED_KEY);
    }
  }
}
const IDEMPOTENCY_KEY_LOWER = 'idempotency-key';
const FIXED_KEY = 'is one key for every request of the instance; an idempotency key is per call: set it on the request, or let idempotencyKeys make one';

/** The `Idempotency-Key` these headers send: a non-empty string (axios sends no `false`, `null` or `undefined`). */
function sentKey(headers: AxiosHeaders): string | undefined {
  const value = ownHeader(headers, IDEMPOTENCY_KEY_HEADER);
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

/** What axios's `settle` does with a complete response: resolve, or reject as axios would. */
function settle(response: AxiosResponse, config: InternalAxiosRequestConfig): AxiosResponse {
  const validate = config.validateStatus;
  if (!response.status || !validate || validate(response.status)) return response;
  const codes = [AxiosError.ERR_BAD_REQUEST, AxiosError.ERR_BAD_RESPONSE];
  throw new AxiosError(
    `Request failed with status code ${response.status}`,
    codes[Math.floor(response.status / 100) - 4],
    response.config,
    response.request as unknown,
    response,
  );
}

/** The pipeline's own attempt contexts take facts without `report` (internal to hotcold: not on AttemptContext's type). */
interface FactsSink {
  addFacts(facts: AnswerFacts): void;
}

/**
 * `context.report(facts)` without the closure `report` makes per attempt on first read: the
 * pipeline's attempts take facts through `addFacts` directly. Not a matter of one allocation:
 * that closure, made on every successful request, kept its attempt — and through it the whole
 * request (config, headers, response) — alive past the young-generation collections that
 * should have freed it (in a 64-caller in-memory loop, 3.4 KB a request went on to the old
 * generation, 14 full collections per 200,000 requests against none for bare axios). A context
 * that is not the pipeline's (a test's, a wrapper's) still gets `report`.
 */
function reportFacts(context: AttemptContext, facts: AnswerFacts): void {
  const sink = context as Partial<FactsSink>;
  if (typeof sink.addFacts === 'function') sink.addFacts(facts);
  else context.report(facts);
}

/** What the classification reads of an attempt's signal (an AbortSignal or an {@link AttemptSignal}). */
type AttemptAbort = Pick<AbortSignal, 'aborted' | 'reason'>;

function abortReason(signal: AttemptAbort): FailureReason {
  const reason = signal.reason as { name?: unknown } | undefined;
  return reason?.name === 'TimeoutError' ? 'timeout' : 'aborted';
}

/**
 * Makes every request of `instance` go through a resilience policy: HTTP method semantics
 * (RFC 9110 §9.2.2) and `Idempotency-Key` decide what may be retried; 429 with `Retry-After` is
 * back-pressure; a node's `503 NOT_ACTIVE` and the balancer's `X-Hotcold-Not-Forwarded` mark are
 * "not executed"; 502/504 and other header-less 5xx are "maybe"; 4xx are answers. Responses and
 * 4xx errors reach you exactly as axios gives them; a failure of the backend rejects with one
 * {@link RPCException} that says whether the request may have run.
 *
 * @param instance an axios instance (`axios.create(...)`); its adapter is wrapped until `detach()`
 * @param options policy options (`createPolicy`'s) plus `routes`, `idempotencyKeys`, `healthPath`, `hotcoldHeaders`
 * @returns the policy and `detach()`
 * @throws {ConfigurationError} when an option is invalid (naming the field), `instance` is not
 * an axios instance or already has a policy attached, or its defaults carry a fixed
 * `Idempotency-Key` (naming `defaults.headers[.<section>].<name>`: a key is per request)
 * @example
 * import axios from 'axios';
 * import { attachPolicy } from 'hotcold/axios';
 *
 * const api = axios.create({ baseURL: 'http://balancer:8080' });
 * const { policy, detach } = attachPolicy(api, {
 *   routes: { 'POST /transfers': { idempotent: false, timeoutMs: 2000 } },
 *   idempotencyKeys: true,
 *   healthPath: '/health',
 * });
 * await api.post('/transfers', { from: 'A', to: 'B', amount: 5 });
 * policy.failover$.subscribe((f) => console.log(`now served by ${f.to.node}`));
 * await detach();
 */
export function attachPolicy(instance: AxiosInstance, options?: AttachPolicyOptions): AttachedPolicy {
  const defaults = (instance as { defaults?: AxiosInstance['defaults'] } | undefined)?.defaults;
  if (typeof instance !== 'function' || typeof defaults !== 'object' || defaults === null) {
    throw new ConfigurationError('instance', 'must be an axios instance (axios.create())');
  }
  const original = defaults.adapter;
  if (typeof original === 'function' && (original as Wrapped)[WRAPPER] === true) {
    throw new ConfigurationError('instance', 'already has a policy attached (detach() it first)');
  }
  refuseFixedKey(defaults.headers);
  const hadOwnAdapter = Object.hasOwn(defaults, 'adapter');
  const baseURL = typeof defaults.baseURL === 'string' && defaults.baseURL.length > 0 ? defaults.baseURL : 'default';
  const o = resolveAttachOptions(options, baseURL);
  const probeBase = (backend: string): string | undefined => (/^https?:\/\//i.test(backend) ? backend : defaults.baseURL);
  const probe =
    o.healthPath === undefined
      ? undefined
      : (context: ProbeContext): Promise<ProbeResult> => probeHealth(instance, o.healthPath as string, probeBase(context.backend), context);
  let policy: Policy;
  try {
    policy = createAdapterPolicy(probe === undefined ? o.policy : { ...o.policy, probe }, (name) => o.routes.telemetryName(name));
  } catch (error) {
    throw asRouteError(error, o.routes.methods);
  }

  let inner: AxiosAdapter | undefined;
  const innerAdapter = (config: InternalAxiosRequestConfig): AxiosAdapter => {
    inner ??= axios.getAdapter(original, config);
    return inner;
  };

  // Callers' signals that are not Node's own, one listener on each for all requests sharing it.
  const signals = new SignalFanout();
  const wrapper: Wrapped = (config: InternalAxiosRequestConfig) => {
    const adapter = innerAdapter(config);
    if ((config as unknown as Record<string, unknown>)[PROBE_FLAG] === true) return adapter(config);
    return send(config, adapter, policy, o, signals);
  };
  wrapper[WRAPPER] = true;
  defaults.adapter = wrapper;

  let detached: Promise<void> | undefined;
  return {
    policy,
    detach(): Promise<void> {
      if (detached !== undefined) return detached;
      if (defaults.adapter === wrapper) {
        if (hadOwnAdapter) defaults.adapter = original;
        else delete (defaults as { adapter?: unknown }).adapter;
      }
      detached = policy.close();
      return detached;
    },
  };
}

/** One request of the instance: the logical call, as attempts of the original adapter. */
async function send(
  config: InternalAxiosRequestConfig,
  adapter: AxiosAdapter,
  policy: Policy,
  o: ResolvedAttachOptions,
  signals: SignalFanout,
): Promise<AxiosResponse> {
  const method = (config.method ?? 'get').toUpperCase();
  const route = o.routes.lookup(method, pathOf(config.url));
  const name = route.name;
  const headers = config.headers instanceof AxiosHeaders ? config.headers : AxiosHeaders.from(config.headers);
  config.headers = headers;
  let key = sentKey(headers);
  if (key !== undefined) {
    // Yours, sent as it is. One outside the wire contract (DESIGN §1: 1..200 visible ASCII
    // characters) is no key the policy can rely on: the request still goes out, as a call
    // without a key (never repeated after an attempt that may have run), instead of failing.
    if (!IDEMPOTENCY_KEY_PATTERN.test(key)) key = undefined;
  } else if (o.idempotencyKeys && !isIdempotentMethod(method)) {
    const made = o.newKey();
    headers.set(IDEMPOTENCY_KEY_HEADER, made);
    // What goes on the wire decides, not what was meant to: `set` keeps a header of yours set to
    // `false` (axios: do not send), and a call believed keyed but sent without one would be
    // repeated after an attempt that may have run, and run twice. (A key the generator got wrong
    // is the policy's to refuse: a ConfigurationError naming `idempotencyKey`.)
    key = ownHeader(headers, IDEMPOTENCY_KEY_HEADER) === false ? undefined : made;
  }
  const idempotent = route.policy?.idempotent ?? isIdempotentMethod(method);
  // A route's own timeout wins; otherwise axios's `timeout` (when set) is the per-attempt timeout.
  const timeoutMs = route.policy?.timeoutMs === undefined ? axiosTimeout(config.timeout) : undefined;
  // The request's own deadline (its caller's, passed on as the wire's header) bounds the route's
  // or the policy's deadlineMs, never replaces it: the earlier ends the call (docs/rest.md).
  const outerDeadlineMs = requestDeadlineMs(headers);
  // May the request be sent again after an attempt that may have run? Only if repeating it is
  // harmless (idempotent) or the server can tell (a key) — and a stream body cannot be re-read.
  const call = new RestCall(config, headers, adapter, o, name, !isStream(config.data), idempotent || key !== undefined);
  // The one closure of a call: the policy hands the attempt function nothing but its context.
  const attempt = (context: AttemptContext): Promise<AxiosResponse> => call.attempt(context);

  let response: AxiosResponse;
  // The signal and the (deprecated) cancelToken both end the call, held or in flight.
  const cancel = callerCancel(config, signals);
  try {
    // No key on the request: say so (`false`), so that an attempt that may have run ends the call
    // at once instead of after a backoff whose repeat `exchange` would refuse anyway.
    response = await policy.execute(attempt, { name, idempotent, idempotencyKey: key ?? false, timeoutMs, outerDeadlineMs, signal: cancel.signal });
  } catch (error) {
    // Refused by this adapter, not by the backend: the caller gets the failure that decided it.
    if (error === call.refusal && call.unsafe !== undefined) throw call.unsafe;
    throw asAxiosCancel(error, cancel);
  } finally {
    cancel.dispose();
  }
  return settle(response, config);
}

/**
 * The state of one request's attempts. A class, not closures over `send`'s locals: a call makes
 * one object instead of a closure per step.
 */
class RestCall {
  /** Set once sending the request again is not safe: every later attempt ends with it. */
  unsafe: RPCException | undefined = undefined;
  /** The final error a refused repeat ended the call with. */
  refusal: RPCException | undefined = undefined;
  /** Exchanges started and not yet settled (one ended by the pipeline may still run). */
  private open = 0;
  /** The latest attempt's exchange (its verdict is in `unsafe` once it settled). */
  private last: Promise<unknown> | undefined = undefined;

  constructor(
    private readonly config: InternalAxiosRequestConfig,
    private readonly headers: AxiosHeaders,
    private readonly adapter: AxiosAdapter,
    private readonly o: ResolvedAttachOptions,
    private readonly name: string,
    /** The body can be sent again (not a stream that was read). */
    private readonly replayable: boolean,
    /** Repeating an attempt that may have run is harmless (idempotent) or the server can tell (a key). */
    private readonly repeatable: boolean,
  ) {}

  attempt(context: AttemptContext): Promise<AxiosResponse> {
    // An attempt the pipeline ended itself (its timeout, an abort) may still be settling here: its
    // verdict decides whether this one may go out. Counted, not chained: on the success path an
    // attempt adds no promise of its own.
    const before = this.open > 0 ? this.last : undefined;
    this.open++;
    const done = before === undefined ? this.exchange(context) : before.then(noop, noop).then(() => this.exchange(context));
    this.last = done;
    return done;
  }

  private async exchange(context: AttemptContext): Promise<AxiosResponse> {
    const { config, headers, adapter, o, name } = this;
    try {
      if (this.unsafe !== undefined) {
        // The pipeline repeats keyed calls the backend deduplicates; this one carries no key (or a
        // spent stream): send nothing, and end the call with a verdict that is final.
        this.refusal = new RetriesExhaustedException(`${name}: not sent again: ${this.unsafe.message}`, 'not-retryable', [this.unsafe], {
          method: name,
          node: this.unsafe.node,
          epoch: this.unsafe.epoch,
        });
        throw this.refusal;
      }
      const isHttp = (adapter as { adapterName?: unknown }).adapterName === 'http';
      // axios's http adapter gets a signal the pipeline ends directly (attempt-signal.ts); any other
      // adapter the attempt's own AbortSignal.
      const evidence = new AttemptEvidence(context);
      const signal = (isHttp ? AttemptSignal.of(context, evidence) : undefined) ?? context.signal;
      evidence.signal = signal;
      // With backends given, the attempt goes to the one the policy picked.
      const poolBase = o.pool && /^https?:\/\//i.test(context.backend) ? context.backend : undefined;
      // The evidence sees this attempt's requests (axios's http adapter over HTTP/1.1 through the agent).
      const tracked = isHttp && agentCarries(config);
      const tls = isHttp && secure(config.url, poolBase ?? config.baseURL, config.allowAbsoluteUrls === false);
      // A redirect may change the protocol (http → https): follow-redirects hands that hop to the
      // other agent, which then must be wrapped too (not when it is `false`, a new one per request).
      const redirects = isHttp && config.maxRedirects !== 0;
      const other: unknown = tls ? config.httpAgent : config.httpsAgent;
      // A request the evidence sees gets the hotcold headers from the agent, on the ClientRequest
      // itself: the same bytes on the wire, without the two headers going through axios's
      // per-request header passes (normalize, toJSON, the byte-string copy), each of which
      // lowercases and sanitizes every header. Through axios's headers when they already name one
      // of them (its precedence: a header set to false is not sent), or carry Expect (Node writes
      // the head before the agent has the request), or some request may escape the agents.
      // Not when a proxy may carry an https request (the first, or a redirect hop): axios tunnels
      // it through a CONNECT agent of its own, which the attempt cannot wrap.
      const onRequests = o.hotcoldHeaders && tracked && (!redirects || other !== false) && !(tls || redirects ? mayTunnel(config, o.proxyEnv) : false) && requestMayCarry(headers);
      if (o.hotcoldHeaders) {
        const attempt = String(context.attempt);
        const left = timeoutHeader(context);
        if (onRequests) evidence.sendHeaders(attempt, left);
        else setHotcoldHeaders(headers, attempt, left);
      }
      // W3C trace context of the call (its span is active here when telemetry is on).
      injectTraceInto(headers);
      // This attempt's settings go on the request's own config (axios's adapters read only its own
      // properties) and come off again before anything is handed back: one call's attempts run one
      // after another, and a copy of the config would cost more than the rest of the attempt.
      const saved = attemptSettings(config);
      config.signal = signal;
      config.timeout = 0;
      config.validateStatus = null;
      if (poolBase !== undefined) config.baseURL = poolBase;
      let response: AxiosResponse;
      try {
        // Inside the try: whatever wrapping throws, the request's own settings are put back.
        if (isHttp) {
          if (tls) config.httpsAgent = evidence.wrap(saved.httpsAgent as never, true);
          else config.httpAgent = evidence.wrap(saved.httpAgent as never, false);
          if (onRequests && redirects) {
            if (tls) config.httpAgent = evidence.wrap(other as never, false);
            else config.httpsAgent = evidence.wrap(other as never, true);
          }
        }
        response = await adapter(config);
      } catch (error) {
        // A request axios made that the evidence never saw went through an agent the attempt did
        // not wrap (axios's own CONNECT agent for an https target behind a proxy): it may have
        // been written, and its body read.
        const seen = tracked && !(evidence.observed === false && (error as { request?: unknown } | null)?.request != null);
        const failure = failureOf(error, evidence, context, signal, name, seen);
        this.remember(failure, evidence, seen);
        throw failure;
      } finally {
        restoreSettings(config, saved);
      }
      const h = readHotcoldHeaders(response.headers);
      if (isAnswerStatus(response.status)) {
        if (h.node !== undefined) reportFacts(context, { node: h.node, epoch: h.epoch, dedup: h.dedup });
        response.config = config;
        return response;
      }
      const body = await readBodyText(response.data, config.responseEncoding);
      const failure = classifyFailedAnswer(response.status, h, body, { name, attempt: context.attempt });
      // An answer means a request was made: unseen, it went through an agent the attempt did not wrap.
      this.remember(failure, evidence, tracked && evidence.observed);
      throw failure;
    } finally {
      this.open--;
    }
  }

  /**
   * After a failed attempt: a request that may have run and is neither idempotent nor keyed must
   * not be sent again, and neither may a stream body that was already read: one a request was
   * made with, or, where the evidence cannot see requests (`tracked` false: HTTP/2, fetch, your
   * own adapter or transport), one handed to the adapter at all.
   */
  private remember(failure: RPCException, evidence: AttemptEvidence, tracked: boolean): void {
    if (failure.mayHaveExecuted && !this.repeatable) this.unsafe = failure;
    else if (!this.replayable && (evidence.observed || !tracked)) this.unsafe = failure;
  }
}

type AttemptSettings = Pick<InternalAxiosRequestConfig, 'signal' | 'timeout' | 'validateStatus' | 'httpAgent' | 'httpsAgent' | 'baseURL'>;
const SETTINGS = ['signal', 'timeout', 'validateStatus', 'httpAgent', 'httpsAgent', 'baseURL'] as const;

function attemptSettings(config: InternalAxiosRequestConfig): AttemptSettings & { own: number } {
  let own = 0;
  for (let i = 0; i < SETTINGS.length; i++) if (Object.hasOwn(config, SETTINGS[i] as string)) own |= 1 << i;
  return { signal: config.signal, timeout: config.timeout, validateStatus: config.validateStatus, httpAgent: config.httpAgent, httpsAgent: config.httpsAgent, baseURL: config.baseURL, own };
}

/** Puts the request's own settings back, exactly (absent stays absent). */
function restoreSettings(config: InternalAxiosRequestConfig, saved: AttemptSettings & { own: number }): void {
  const target = config as unknown as Record<string, unknown>;
  for (let i = 0; i < SETTINGS.length; i++) {
    const field = SETTINGS[i] as (typeof SETTINGS)[number];
    if ((saved.own & (1 << i)) !== 0) target[field] = saved[field];
    else if (field in target) delete target[field];
  }
}

/**
 * Whether a request of `url` on `baseURL` goes to an https URL (so axios uses `httpsAgent`), as
 * axios's `buildFullPath` decides: `url` when it is absolute (a scheme and `//`) and absolute urls
 * are allowed or there is no `baseURL`, else `baseURL`. Per attempt, so by character codes rather
 * than regexps.
 */
function secure(url: string | undefined, baseURL: string | undefined, baseAlways: boolean): boolean {
  const hasBase = typeof baseURL === 'string' && baseURL.length > 0;
  if (url !== undefined && !(hasBase && baseAlways)) {
    const scheme = schemeLength(url);
    if (scheme > 0 && url.charCodeAt(scheme + 1) === 0x2f && url.charCodeAt(scheme + 2) === 0x2f) return isHttps(url);
  }
  return hasBase && isHttps(baseURL);
}

/**
 * Whether axios may send an https request of this config through a proxy: `proxy` set, or left
 * to the environment and one of the variables axios reads (proxy-from-env) set (read at most once
 * a second: proxy-env.ts). NO_PROXY is not read: a proxy variable set at all sends the hotcold
 * headers through axios's headers.
 */
function mayTunnel(config: InternalAxiosRequestConfig, env: ProxyEnv): boolean {
  const proxy = (config as { proxy?: unknown }).proxy;
  if (proxy !== undefined && proxy !== null) return proxy !== false;
  return env.httpsProxySet();
}

/** Whether `url` starts with `https:`, in any case. */
function isHttps(url: string): boolean {
  return (
    url.length >= 6 &&
    (url.charCodeAt(0) | 0x20) === 0x68 &&
    (url.charCodeAt(1) | 0x20) === 0x74 &&
    (url.charCodeAt(2) | 0x20) === 0x74 &&
    (url.charCodeAt(3) | 0x20) === 0x70 &&
    (url.charCodeAt(4) | 0x20) === 0x73 &&
    url.charCodeAt(5) === 0x3a
  );
}

/** The length of `url`'s scheme (RFC 3986 §3.1: a letter, then letters, digits, `+`, `-`, `.`), up to its `:`; 0 without one. */
function schemeLength(url: string): number {
  const first = url.charCodeAt(0) | 0x20;
  if (!(first >= 0x61 && first <= 0x7a)) return 0;
  for (let i = 1; i < url.length; i++) {
    const c = url.charCodeAt(i);
    if (c === 0x3a) return i;
    const lower = c | 0x20;
    if (!((lower >= 0x61 && lower <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2b || c === 0x2d || c === 0x2e)) return 0;
  }
  return 0;
}

const noop = (): void => undefined;

/**
 * Whether axios's http adapter hands this request to an agent, so that the attempt's evidence
 * sees it (evidence.ts) and "no request seen" means none was made. Not over HTTP/2 (its own
 * session, no agent) nor through a `transport` of yours (which need not use the agent): there a
 * request unseen may well have been written, so a broken exchange is "maybe".
 */
function agentCarries(config: InternalAxiosRequestConfig): boolean {
  const own = config as { httpVersion?: unknown; transport?: unknown };
  return (own.httpVersion === undefined || Number(own.httpVersion) !== 2) && (own.transport === undefined || own.transport === null);
}

/** `signal`: the one the attempt's exchange was given (it aborted when the pipeline ended the attempt). */
function failureOf(error: unknown, evidence: AttemptEvidence, context: AttemptContext, signal: AttemptAbort, name: string, isHttp: boolean): RPCException {
  const code = (error as { code?: unknown } | null)?.code;
  if (!signal.aborted && typeof code === 'string' && NOT_SENDABLE.has(code) && !evidence.responseStarted) {
    return new ProtocolException(`${name}: the request could not be made (${code}); nothing was sent`, {
      method: name,
      attempts: context.attempt,
      cause: error,
      mayHaveExecuted: false,
    });
  }
  const reason: FailureReason = signal.aborted ? abortReason(signal) : 'network';
  const written = evidence.written(isHttp, signal.aborted);
  return classifyFailure(
    { reason, written, responseStarted: evidence.responseStarted, cause: error },
    { name, attempt: context.attempt, timeoutMs: context.timeoutMs },
  );
}

/** The health probe: `GET healthPath` through the instance (its agent, TLS and auth), outside the policy. */
async function probeHealth(instance: AxiosInstance, healthPath: string, baseURL: string | undefined, context: ProbeContext): Promise<ProbeResult> {
  const response = await instance.request({
    method: 'get',
    url: healthPath,
    baseURL,
    signal: context.signal,
    timeout: 0,
    validateStatus: null,
    responseType: 'text',
    transformResponse: [(data: unknown): unknown => data],
    [PROBE_FLAG]: true,
  } as Parameters<AxiosInstance['request']>[0]);
  const h = readHotcoldHeaders(response.headers);
  let status: unknown;
  const text = typeof response.data === 'string' ? response.data : '';
  if (text.trimStart().startsWith('{')) {
    try {
      status = (JSON.parse(text) as { status?: unknown }).status;
    } catch {
      status = undefined;
    }
  }
  const ok = response.status >= 200 && response.status < 300 && (status === undefined || status === 'active');
  return {
    ok,
    node: h.node,
    epoch: h.epoch,
    dedup: h.dedup,
    retryAfterMs: response.status === 429 ? parseRetryAfter(h.retryAfter) : undefined,
    backPressure: response.status === 429,
    status: response.status,
  };
}
