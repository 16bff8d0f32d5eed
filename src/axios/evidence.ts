/**
 * Written / not-written evidence for one attempt, from the socket's side, as the JSON-RPC
 * transport gathers it (src/transport/attempt.ts): Node's own `'finish'` on the request (every
 * byte handed to the kernel), the arrival of a response, and whether the request's socket ever
 * became a connected one (TCP connected, and for TLS the handshake done: before that no
 * application byte can have left).
 *
 * axios's Node `http` adapter creates its `ClientRequest` inside (directly, or through
 * follow-redirects); every such request is handed to an agent's `addRequest`. The attempt gives
 * axios an agent that delegates everything to yours (or Node's global agent) and notes each
 * request it is handed — redirect hops included — so nothing of your agent, proxy, TLS or
 * redirect settings changes. With another adapter (fetch, a custom one) no request is seen and
 * the evidence is "unknown": then a broken exchange counts as "maybe executed".
 *
 * The facts are read off the requests when a verdict is needed (the exchange failed, or the
 * pipeline ended the attempt), not pushed to the pipeline as they happen; only `'finish'` needs a
 * listener. The same agent puts the attempt's hotcold headers on each request it is handed
 * ({@link AttemptEvidence.sendHeaders}).
 */
import http from 'node:http';
import https from 'node:https';
import type { ClientRequest } from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

type Agentish = http.Agent;
type AddRequest = (this: Agentish, req: ClientRequest, options: unknown) => void;

const EVIDENCE = Symbol('hotcold.evidence');
const REAL = Symbol('hotcold.realAgent');
type RealAgent = Agentish & { addRequest: AddRequest };
type TrackingAgent = Omit<Agentish, 'addRequest'> & { addRequest: typeof trackedAddRequest; [EVIDENCE]: AttemptEvidence; [REAL]: RealAgent };

/** The wrapper agent's addRequest (`this` is the wrapper): note the request, then hand it on. */
function trackedAddRequest(this: TrackingAgent, req: ClientRequest, options: unknown): void {
  this[EVIDENCE].track(req);
  const real = this[REAL];
  real.addRequest(req, options);
}

const LIVE: { readonly aborted: boolean } = Object.freeze({ aborted: false });

/** The attempt a tracked request belongs to, read by the shared listener below (`this` is the request). */
const OWNER = Symbol('hotcold.evidenceOwner');
type TrackedRequest = ClientRequest & { [OWNER]?: AttemptEvidence };

// One function for every request (EventEmitter calls a listener with the emitter as `this`): a
// request costs one listener, not a closure. 'finish' is the one fact Node keeps no exact trace
// of: after a socket error the buffers are dropped and `writableFinished` can read true for bytes
// that never left. The response and the socket are read off the request when they are needed.
function onRequestFinish(this: TrackedRequest): void {
  this[OWNER]?.finishedNow();
}

/** Whether `socket` is a connected one: TCP connected, and for TLS the handshake done. */
function connectedSocket(socket: Socket | null | undefined): boolean {
  if (socket === null || socket === undefined) return false;
  const tls = socket as Partial<TLSSocket> & { _secureEstablished?: unknown };
  // Node exposes the handshake's end only as `_secureEstablished` / 'secureConnect'.
  if (tls.encrypted === true) return tls._secureEstablished === true;
  // `connecting` turns false when the socket connects, and also when it is destroyed (a refused
  // connection): read before the attempt's own abort destroys it (see {@link AttemptEvidence.attemptEnded}),
  // a destroyed socket counts as connected, which can only turn "not executed" into "maybe".
  return socket.connecting !== true;
}

/** A request handed to the agent whose response had begun (Node sets `res` as it emits 'response'; a 1xx clears it). */
function responded(req: ClientRequest): boolean {
  return (req as { res?: unknown }).res != null;
}

/**
 * The evidence of one attempt. It keeps the attempt's requests and reads them when a verdict is
 * needed — when the exchange failed, or at the moment the pipeline ends the attempt (its timeout,
 * the caller's abort), when {@link AttemptEvidence.attemptEnded} freezes it before anything is
 * torn down — instead of being told each step of every request: on the success path an attempt
 * costs one listener and no report.
 */
export class AttemptEvidence {
  /** The first request handed to the agent; later ones (redirect hops) in `more`. */
  private first: ClientRequest | undefined = undefined;
  private more: ClientRequest[] | undefined = undefined;
  /** A request's `'finish'` came while the attempt was live (every byte handed to the kernel). */
  private finished = false;
  /** Frozen when the pipeline ended the attempt: what had happened by then (later signs are not evidence). */
  private frozen: { readonly responded: boolean; readonly connected: boolean } | undefined = undefined;

  /**
   * The attempt's signal, set once the exchange has it: what happens to the request once it
   * aborted (Node emits `'finish'` when a request still waiting for its socket is destroyed) is
   * not evidence.
   */
  signal: { readonly aborted: boolean } = LIVE;

  /**
   * @param context where the evidence goes when the pipeline ends the attempt itself: it
   *   classifies that end with `written` (`false` only when a request was made and had neither a
   *   connected socket, a flushed byte nor an answer).
   */
  constructor(private readonly context: { readonly report: (facts: { readonly written: boolean }) => void }) {}

  /** Whether a request was handed to an agent at all. */
  get observed(): boolean {
    return this.first !== undefined;
  }

  get responseStarted(): boolean {
    if (this.frozen !== undefined) return this.frozen.responded;
    return this.some(responded);
  }

  /**
   * An agent that is `agent` (yours, or Node's global one) and tells this attempt about each
   * request. `false` is Node's "no pooling": a new default agent for the request, as Node makes.
   */
  wrap(agent: Agentish | false | undefined, secure: boolean): Agentish {
    const real = agent === false ? new (secure ? https.Agent : http.Agent)() : (agent ?? (secure ? https.globalAgent : http.globalAgent));
    // Everything but addRequest is the real agent's (its prototype); addRequest is one shared
    // function that reads the attempt from the wrapper: no closure per attempt. One wrapper per
    // attempt: a request names its attempt only through the agent it was handed to (a redirect
    // hop comes later, from follow-redirects, with the same agent).
    const wrapper = Object.create(real) as TrackingAgent;
    wrapper[EVIDENCE] = this;
    wrapper[REAL] = real as unknown as RealAgent;
    wrapper.addRequest = trackedAddRequest;
    return wrapper;
  }

  /** `X-Hotcold-Attempt` and `X-Hotcold-Timeout-Ms` to put on each request (see {@link AttemptEvidence.sendHeaders}). */
  private attemptHeader: string | undefined = undefined;
  private timeoutHeader: string | undefined = undefined;

  /**
   * Each request handed to the agent gets `X-Hotcold-Attempt: attempt` and, when `left` is
   * given, `X-Hotcold-Timeout-Ms: left` — redirect hops included, as when they are axios headers.
   * Only for a request whose headers name neither (nor Expect): `setHeader` replaces a header of
   * the same name in any case, and the agent has the request before Node writes its head.
   */
  sendHeaders(attempt: string, left: string | undefined): void {
    this.attemptHeader = attempt;
    this.timeoutHeader = left;
  }

  /** @internal A request was handed to the agent. */
  track(req: ClientRequest): void {
    const attempt = this.attemptHeader;
    if (attempt !== undefined && !req.headersSent) {
      req.setHeader('X-Hotcold-Attempt', attempt);
      if (this.timeoutHeader !== undefined) req.setHeader('X-Hotcold-Timeout-Ms', this.timeoutHeader);
    }
    if (this.first === undefined) this.first = req;
    else (this.more ??= []).push(req);
    // A request is never reused: the mark is set once and names this attempt for good.
    (req as TrackedRequest)[OWNER] = this;
    req.on('finish', onRequestFinish);
  }

  /** @internal The request's `'finish'`, counted only while the attempt is live. */
  finishedNow(): void {
    if (this.frozen === undefined && !this.signal.aborted) this.finished = true;
  }

  /**
   * @internal The pipeline ended the attempt (told synchronously, before the request is aborted):
   * the evidence is frozen as it stands, and the pipeline, which classifies this end itself, is
   * told whether a request was made and may have been written.
   */
  attemptEnded(): void {
    if (this.frozen !== undefined) return;
    this.frozen = { responded: this.some(responded), connected: this.some(hasConnectedSocket) };
    if (this.first !== undefined) this.context.report({ written: this.finished || this.frozen.responded || this.frozen.connected });
  }

  private some(test: (req: ClientRequest) => boolean): boolean {
    if (this.first === undefined) return false;
    if (test(this.first)) return true;
    const more = this.more;
    if (more !== undefined) for (const req of more) if (test(req)) return true;
    return false;
  }

  /**
   * Whether the request may have reached the server: `false` only on evidence, `undefined` when
   * no request was seen through another adapter (unknown).
   *
   * @param adapterIsHttp the attempt ran axios's Node `http` adapter (so no request seen = none made)
   * @param endedFromOutside the attempt was ended by its timeout or the caller's abort, not by Node
   */
  written(adapterIsHttp: boolean, endedFromOutside: boolean): boolean | undefined {
    if (this.first === undefined) return adapterIsHttp ? false : undefined;
    if (this.finished || this.responseStarted) return true;
    if (!endedFromOutside) {
      // Ended by Node (a socket error): before 'finish' the request was not fully written.
      return false;
    }
    // Ended by us: a connected socket may already carry the bytes — "maybe". Not frozen (no
    // notice from the pipeline): read now, after the abort, a destroyed socket counts as connected.
    return this.frozen !== undefined ? this.frozen.connected : this.some(hasConnectedSocket);
  }
}

function hasConnectedSocket(req: ClientRequest): boolean {
  return connectedSocket(req.socket);
}
