/**
 * Written / not-written evidence for one attempt, from the socket's side, as the JSON-RPC
 * transport gathers it (src/transport/attempt.ts): Node's own `'finish'` on the request (every
 * byte handed to the kernel), the arrival of a response, and the state of the request's socket
 * when the attempt is ended from outside (timeout, abort).
 *
 * axios's Node `http` adapter creates its `ClientRequest` inside (directly, or through
 * follow-redirects); every such request is handed to an agent's `addRequest`. The attempt gives
 * axios agents that delegate everything to yours (or Node's global agents) and note each request
 * they are handed — redirect hops included — so nothing of your agent, proxy, TLS or redirect
 * settings changes. With another adapter (fetch, a custom one) no request is seen and the
 * evidence is "unknown": then a broken exchange counts as "maybe executed".
 */
import http from 'node:http';
import https from 'node:https';
import type { ClientRequest } from 'node:http';
import type { TLSSocket } from 'node:tls';

type Agentish = http.Agent;

export class AttemptEvidence {
  private readonly requests: ClientRequest[] = [];
  private finished = false;
  private responded = false;
  /** Our judgement, made when the attempt was ended from outside (see {@link judge}). */
  private judged: boolean | undefined;

  /** Whether a request was handed to an agent at all (the http adapter was used). */
  get observed(): boolean {
    return this.requests.length > 0;
  }

  get responseStarted(): boolean {
    return this.responded;
  }

  /** An agent that is `agent` (yours, or Node's global one) and tells this attempt about each request. */
  wrap(agent: Agentish | undefined, secure: boolean): Agentish {
    const real = agent ?? (secure ? https.globalAgent : http.globalAgent);
    const evidence = this;
    const wrapper = Object.create(real, {
      addRequest: {
        value(req: ClientRequest, options: unknown): void {
          evidence.track(req);
          (real as unknown as { addRequest(req: ClientRequest, options: unknown): void }).addRequest(req, options);
        },
      },
    }) as Agentish;
    return wrapper;
  }

  private track(req: ClientRequest): void {
    this.requests.push(req);
    req.once('finish', () => {
      this.finished = true;
    });
    req.once('response', () => {
      this.responded = true;
    });
  }

  /**
   * Judges now, before the request is destroyed (destruction clears the socket's `connecting`
   * flag): called when the attempt is ended from outside (its timeout, the caller's abort).
   */
  judge(): void {
    this.judged ??= this.mayHaveBeenWritten();
  }

  /**
   * Whether the request may have reached the server: `false` only on evidence, `undefined` when
   * no request was seen (another adapter: unknown).
   */
  written(adapterIsHttp: boolean): boolean | undefined {
    if (this.judged !== undefined) return this.judged;
    if (this.finished || this.responded) return true;
    if (this.requests.length === 0) return adapterIsHttp ? false : undefined;
    // Node ended the attempt (socket error): before 'finish', the request was not fully written.
    return false;
  }

  /**
   * Sure "no" only when the request never finished writing and its socket is not a connected
   * one (none yet, still connecting, or still in the TLS handshake): a connected socket may
   * already carry the bytes, so that is a "maybe".
   */
  private mayHaveBeenWritten(): boolean {
    if (this.finished || this.responded) return true;
    const req = this.requests[this.requests.length - 1];
    if (req === undefined) return false;
    const socket = req.socket;
    if (socket === undefined || socket === null || socket.connecting) return false;
    // A TLS socket still in its handshake has sent no application bytes (see attempt.ts).
    const tls = socket as Partial<TLSSocket> & { _secureEstablished?: unknown };
    if (tls.encrypted === true && tls._secureEstablished === false) return false;
    return true;
  }
}
