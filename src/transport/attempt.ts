/**
 * One HTTP exchange, watched from the socket's side. axios hands its outgoing request to
 * `config.transport.request(...)`; the attempt is that transport, so it holds the real
 * `ClientRequest` and learns from Node itself whether the request was fully written ('finish')
 * and whether an answer began — the facts `classify` needs to say "not executed" only when sure.
 *
 * The whole attempt is bounded by its timeout (axios's `timeout` is a socket idle timeout, which a
 * trickling server evades) and by the caller's signal; either settles the attempt at once and
 * destroys the request. Both are watched by the owner's {@link InflightAttempts}: one timer and
 * one listener per signal for all attempts, not one of each per request.
 */
import http from 'node:http';
import https from 'node:https';
import type { ClientRequest, IncomingHttpHeaders, IncomingMessage, RequestOptions } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { AxiosResponse } from 'axios';
import { monotonicNow } from '../shared/clock.js';
import type { FailureReason } from './classify.js';
import type { InflightAttempts, Tracked } from '../shared/inflight.js';

export interface AttemptOwner {
  readonly maxResponseBytes: number;
  readonly inflight: InflightAttempts<Attempt>;
}

export type EndReason = FailureReason | 'closed';

/** The attempt a request belongs to, so one shared 'finish' listener serves every request. */
const ATTEMPT = Symbol('hotcold.attempt');
type OwnedRequest = ClientRequest & { [ATTEMPT]?: Attempt };

/** Node's own 'finish': every byte of the request was handed to the kernel. */
function onRequestFinish(this: OwnedRequest): void {
  const attempt = this[ATTEMPT];
  if (attempt !== undefined) attempt.finished = true;
}

/** Subclasses turn the end of the exchange into a result or an error (an RPC call, a probe). */
export abstract class Attempt implements Tracked {
  private req: ClientRequest | undefined;
  /** Node emitted 'finish' on the request: every byte of it was handed to the kernel. */
  finished = false;
  /** Our own judgement, made when we ended the attempt ourselves (see `fail`). */
  private judged: boolean | undefined;
  private res: IncomingMessage | undefined;
  private settled = false;
  /** Monotonic ms at which the attempt times out (set by `arm`). */
  expiresAt = Infinity;
  /** The owner's registry links (shared/inflight.ts). */
  inflightPrev: Tracked | undefined = undefined;
  inflightNext: Tracked | undefined = undefined;
  inflightLinked = false;

  constructor(
    private readonly owner: AttemptOwner,
    readonly signal: AbortSignal | undefined,
  ) {}

  /** A complete HTTP answer arrived. */
  protected abstract onAnswer(status: number, headers: IncomingHttpHeaders | Record<string, unknown>, body: string): void;
  /** The exchange ended without a complete answer. */
  protected abstract onFailure(reason: EndReason, cause: unknown): void;

  /**
   * Starts watching the timeout (`Infinity`: none) and the signal; false if the signal had
   * already aborted or there is no time.
   */
  arm(timeoutMs: number): boolean {
    if (this.signal?.aborted) {
      this.fail('aborted', this.signal.reason);
      return false;
    }
    if (!(timeoutMs > 0)) {
      this.fail('timeout', undefined);
      return false;
    }
    this.expiresAt = monotonicNow() + timeoutMs;
    this.owner.inflight.add(this);
    return true;
  }

  /** The owner's timer: the timeout passed. */
  expire(): void {
    this.fail('timeout', undefined);
  }

  /** The caller's signal aborted. */
  abort(reason: unknown): void {
    this.fail('aborted', reason);
  }

  /** axios `transport` hook: make the real request and watch it. */
  request(options: RequestOptions, callback: (res: IncomingMessage) => void): ClientRequest {
    const mod = options.protocol === 'https:' ? https : http;
    // A second request through this attempt is a re-send by the caller's own axios interceptor
    // (axios-retry re-sends a POST on any network error). After a request that was not answered
    // in full it would repeat a call that may have run, under the same attempt number, unseen by
    // the retry rules: refused, so the attempt ends as the first request's failure says. A
    // complete answer (say a 401 a token refresh acts on) leaves the choice to the interceptor.
    const resend = this.req !== undefined && this.res?.complete !== true;
    const req = mod.request(options, (res) => {
      this.res = res;
      const length = res.headers['content-length'];
      if (length !== undefined && Number(length) > this.owner.maxResponseBytes) {
        callback(res);
        this.fail('too-large', undefined);
        return;
      }
      callback(res);
    });
    this.req = req;
    (req as OwnedRequest)[ATTEMPT] = this;
    req.on('finish', onRequestFinish);
    // Settled (timed out, aborted, closed) while axios was still preparing: never send.
    if (this.settled) req.destroy(new Error('attempt already ended'));
    else if (resend) req.destroy(new Error('hotcold refused a re-send of an unanswered request (a retrying axios interceptor?)'));
    return req;
  }

  /**
   * Whether the request may have reached the server. Sure "no" only when it never finished
   * writing and its socket is not a connected one (none yet, still connecting, or still in the
   * TLS handshake): a connected socket may already carry the bytes, so that is a "maybe".
   */
  mayHaveBeenWritten(): boolean {
    if (this.finished || this.res !== undefined) return true;
    const socket = this.req?.socket;
    if (socket === undefined || socket === null || socket.connecting) return false;
    // A TLS socket still in its handshake has sent no application bytes: there are no keys yet.
    // Node exposes that only as `_secureEstablished` (getProtocol() already names the offered
    // version); should that field ever vanish the answer falls back to "maybe".
    const tls = socket as Partial<TLSSocket> & { _secureEstablished?: unknown };
    if (tls.encrypted === true && tls._secureEstablished === false) return false;
    return true;
  }

  /**
   * Whether the request may have reached the server: Node's own report when Node ended the
   * attempt (an error after 'finish' cannot precede it), our judgement when we ended it.
   */
  get written(): boolean {
    return this.judged ?? this.finished;
  }

  get responseStarted(): boolean {
    return this.res !== undefined;
  }

  get responseHeaders(): IncomingHttpHeaders | undefined {
    return this.res?.headers;
  }

  get responseStatus(): number | undefined {
    return this.res?.statusCode;
  }

  /** axios resolved. */
  onResponse(response: AxiosResponse<unknown>): void {
    if (this.settled) return;
    this.finish();
    const data = response.data;
    const body =
      typeof data === 'string'
        ? data
        : Buffer.isBuffer(data)
          ? data.toString('utf8')
          : data === undefined || data === null
            ? ''
            : safeStringify(data);
    this.onAnswer(response.status, this.res?.headers ?? response.headers, body);
  }

  /** axios rejected (socket error, premature close, body over the limit). */
  onError(error: unknown): void {
    if (this.settled) return;
    const message = (error as { message?: unknown } | null)?.message;
    const tooLarge = this.res !== undefined && typeof message === 'string' && message.includes('maxContentLength');
    this.finish();
    this.onFailure(tooLarge ? 'too-large' : 'network', error);
  }

  /** Ends the attempt on our side (timeout, abort, over-size, close) and drops the request. */
  fail(reason: EndReason, cause: unknown): void {
    if (this.settled) return;
    // Judge "written" before destroying: destruction clears the socket's connecting flag.
    this.judged = this.mayHaveBeenWritten();
    this.finish();
    this.req?.destroy();
    this.onFailure(reason, cause);
  }

  private finish(): void {
    this.settled = true;
    this.owner.inflight.delete(this);
  }
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? '';
  } catch {
    return '';
  }
}
