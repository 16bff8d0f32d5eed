/**
 * A deliberately broken server for the conformance tests: a real reference node behind a
 * loopback proxy that breaks exactly one rule of the wire spec (drops a request header, rewrites
 * a status). Everything else is the node's own behaviour, so the kit must fail the checks of
 * that rule and only those.
 */
import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Mutation {
  /** Request headers as forwarded to the node (lower-case names); edit in place. */
  request?(headers: IncomingHttpHeaders, method: string, path: string): void;
  /** The node's status as passed to the client. */
  status?(status: number, method: string, path: string): number;
  /** The node's response headers as passed to the client; edit in place. */
  response?(headers: IncomingHttpHeaders): void;
}

export interface MutatingProxy {
  url: string;
  close(): Promise<void>;
}

export async function startMutatingProxy(target: string, mutation: Mutation): Promise<MutatingProxy> {
  const to = new URL(target);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const method = req.method ?? 'GET';
      const path = req.url ?? '/';
      const headers: IncomingHttpHeaders = { ...req.headers, host: to.host };
      mutation.request?.(headers, method, path);
      const upstream = http.request({ hostname: to.hostname, port: to.port, method, path, headers, agent: false }, (answer) => {
        const status = mutation.status ? mutation.status(answer.statusCode ?? 502, method, path) : (answer.statusCode ?? 502);
        const out = { ...answer.headers };
        mutation.response?.(out);
        res.writeHead(status, out);
        answer.pipe(res);
      });
      upstream.once('error', () => res.destroy());
      res.once('close', () => upstream.destroy());
      upstream.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
