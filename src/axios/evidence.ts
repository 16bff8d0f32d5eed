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

// What the evidence reports, made once: the pipeline copies the fields it is told (frozen, so no report can change them).
const NOT_WRITTEN: { readonly written: boolean } = Object.freeze({ written: false });
const WRITTEN: { readonly written: boolean } = Object.freeze({ written: true });

/** The attempt a tracked request belongs to, read by the shared listeners below (`this` is the request). */
const OWNER = Symbol('hotcold.evidenceOwner');
type TrackedRequest = ClientRequest & { [OWNER]?: AttemptEvidence };

// One function each for every request (EventEmitter calls a listener with the emitter as `this`):
// a request costs three listeners, not three closures.
function onRequestFinish(this: TrackedRequest): void {
  this[OWNER]?.finishedNow();
}
function onRequestResponse(this: TrackedRequest): void {
  this[OWNER]?.respondedNow();
}
function onRequestSocket(this: TrackedRequest, socket: Socket): void {
  this[OWNER]?.socketAssigned(socket);
}

export class AttemptEvidence {
  private seen = false;
  private finished = false;
  private responded = false;
  /** A request's socket became connected (TCP, and TLS's handshake where there is one). */
  private connected = false;

  /**
   * @param signal the attempt's signal: what happens to the request once it aborted (Node emits
   *   `'finish'` when a request still waiting for its socket is destroyed) is not evidence.
   */
  constructor(
    private readonly signal: { readonly aborted: boolean },
    /**
     * Tells the pipeline the evidence as it changes (`written: false` once a request is made,
     * `true` from its first connected socket, byte flushed or answer): when the pipeline ends an
     * attempt itself (its timeout, the caller's abort) it classifies with this.
     */
    private readonly report: (facts: { readonly written: boolean }) => void,
  ) {}

  /** Whether `written: true` was reported. */
  private told = false;

  /** Whether a request was handed to an agent at all. */
  get observed(): boolean {
    return this.seen;
  }

  get responseStarted(): boolean {
    return this.responded;
  }

  /**
   * An agent that is `agent` (yours, or Node's global one) and tells this attempt about each
   * request. `false` is Node's "no pooling": a new default agent for the request, as Node makes.
   */
  wrap(agent: Agentish | false | undefined, secure: boolean): Agentish {
    const real = agent === false ? new (secure ? https.Agent : http.Agent)() : (agent ?? (secure ? https.globalAgent : http.globalAgent));
    // Everything but addRequest is the real agent's (its prototype); addRequest is one shared
    // function that reads the attempt from the wrapper: no closure per attempt.
    const wrapper = Object.create(real) as TrackingAgent;
    wrapper[EVIDENCE] = this;
    wrapper[REAL] = real as unknown as RealAgent;
    wrapper.addRequest = trackedAddRequest;
    return wrapper;
  }

  /** @internal A request was handed to the agent. */
  track(req: ClientRequest): void {
    if (!this.seen) this.report(NOT_WRITTEN);
    this.seen = true;
    // A request is never reused: the mark is set once and names this attempt for good.
    (req as TrackedRequest)[OWNER] = this;
    // `on`, not `once`: each fires at most once per request.
    req.on('finish', onRequestFinish);
    req.on('response', onRequestResponse);
    req.on('socket', onRequestSocket);
  }

  /** A sign of life of the request, counted only while the attempt is live; reports `written: true` once. */
  private live(): boolean {
    if (this.signal.aborted) return false;
    if (!this.told) {
      this.told = true;
      this.report(WRITTEN);
    }
    return true;
  }

  /** @internal The request's `'finish'`. */
  finishedNow(): void {
    if (this.live()) this.finished = true;
  }

  /** @internal The request's `'response'`. */
  respondedNow(): void {
    if (this.live()) this.responded = true;
  }

  private connectedNow(): void {
    if (this.live()) this.connected = true;
  }

  /** @internal The request's `'socket'`. */
  socketAssigned(socket: Socket): void {
    const tls = socket as Partial<TLSSocket> & { _secureEstablished?: unknown };
    if (tls.encrypted === true) {
      // Node exposes the handshake's end only as `_secureEstablished` / 'secureConnect'.
      if (tls._secureEstablished === true) this.connectedNow();
      else socket.once('secureConnect', () => this.connectedNow());
    } else if (socket.connecting) {
      // A new connection (a pooled one is connected already): rare enough for a closure.
      socket.once('connect', () => this.connectedNow());
    } else {
      this.connectedNow();
    }
  }

  /**
   * Whether the request may have reached the server: `false` only on evidence, `undefined` when
   * no request was seen through another adapter (unknown).
   *
   * @param adapterIsHttp the attempt ran axios's Node `http` adapter (so no request seen = none made)
   * @param endedFromOutside the attempt was ended by its timeout or the caller's abort, not by Node
   */
  written(adapterIsHttp: boolean, endedFromOutside: boolean): boolean | undefined {
    if (this.finished || this.responded) return true;
    if (!this.seen) return adapterIsHttp ? false : undefined;
    // Ended by us: a connected socket may already carry the bytes — "maybe". Ended by Node (a
    // socket error): before 'finish' the request was not fully written.
    return endedFromOutside ? this.connected : false;
  }
}
