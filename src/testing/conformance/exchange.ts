import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { setTimer } from '../../shared/timer.js';

/**
 * One raw HTTP exchange for the conformance kit: the server's answer exactly as sent (status,
 * headers, body text), with no client-side interpretation — the kit judges the wire, not what a
 * client library makes of it. A fresh connection per request (no pooling), bounded by a timeout.
 */

/** A complete answer. */
export interface Exchange {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
}

export interface ExchangeRequest {
  method: 'GET' | 'POST' | 'HEAD';
  url: string;
  headers: Record<string, string>;
  body?: string | undefined;
  /** The whole exchange must complete within this many ms. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

/** Largest body the kit reads (1 MiB): a conformance answer is small. */
const MAX_BODY_BYTES = 1 << 20;

/** Sends `req` and resolves with the complete answer; rejects on a network error or the timeout. */
export function exchange(req: ExchangeRequest): Promise<Exchange> {
  return new Promise<Exchange>((resolve, reject) => {
    const url = new URL(req.url);
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const headers: Record<string, string> = { ...req.headers };
    if (req.body !== undefined) {
      headers['content-type'] ??= 'application/json';
      headers['content-length'] = String(Buffer.byteLength(req.body));
    }
    let settled = false;
    const finish = (error: Error | undefined, value?: Exchange): void => {
      if (settled) return;
      settled = true;
      timer.clear();
      req.signal?.removeEventListener('abort', onAbort);
      if (error) {
        outgoing.destroy();
        reject(error);
      } else resolve(value as Exchange);
    };
    const outgoing = send(url, { method: req.method, headers, agent: false });
    const timer = setTimer(() => finish(new Error(`no complete answer within ${req.timeoutMs} ms`)), req.timeoutMs);
    const onAbort = (): void => finish(new Error('aborted'));
    if (req.signal?.aborted) {
      finish(new Error('aborted'));
      return;
    }
    req.signal?.addEventListener('abort', onAbort, { once: true });
    outgoing.once('error', (error: NodeJS.ErrnoException) => finish(new Error(`HTTP request failed: ${error.code ?? error.message}`)));
    outgoing.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_BODY_BYTES) finish(new Error(`answer larger than ${MAX_BODY_BYTES} bytes`));
        else chunks.push(chunk);
      });
      res.once('error', (error) => finish(error));
      res.once('aborted', () => finish(new Error('the answer was cut off')));
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text.length > 0 ? (JSON.parse(text) as unknown) : undefined;
        } catch {
          json = undefined;
        }
        finish(undefined, { status: res.statusCode ?? 0, headers: res.headers, text, json });
      });
    });
    outgoing.end(req.body);
  });
}

/** The first value of header `name` (lower-case), or undefined. */
export function header(answer: Exchange, name: string): string | undefined {
  const value = answer.headers[name];
  return Array.isArray(value) ? value[0] : value;
}
