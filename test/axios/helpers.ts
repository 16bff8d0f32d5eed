/** A loopback REST server whose behaviour each test scripts per request, and the requests it saw. */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface SeenRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** What the server does with one request: answer, reset after reading it, or hold it. */
export type Behaviour =
  | { kind: 'answer'; status: number; headers?: Record<string, string>; body?: unknown }
  | { kind: 'reset' }
  | { kind: 'stall' };

export interface ScriptedServer {
  readonly url: string;
  readonly seen: SeenRequest[];
  /** Requests of `method path` so far. */
  count(method: string, path: string): number;
  /** The next answers for `method path`, in order; the last one repeats. */
  script(method: string, path: string, ...behaviours: Behaviour[]): void;
  close(): Promise<void>;
}

export const NODE = { 'x-hotcold-node': 'node-a', 'x-hotcold-epoch': '7' } as const;

export async function startScriptedServer(): Promise<ScriptedServer> {
  const scripts = new Map<string, Behaviour[]>();
  const seen: SeenRequest[] = [];
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const path = (req.url ?? '/').split('?')[0] ?? '/';
      seen.push({ method: req.method ?? 'GET', path, headers: req.headers, body });
      const queue = scripts.get(`${req.method} ${path}`) ?? [];
      const behaviour: Behaviour = (queue.length > 1 ? queue.shift() : queue[0]) ?? { kind: 'answer', status: 200, body: { ok: true } };
      if (behaviour.kind === 'reset') {
        req.socket.destroy();
        return;
      }
      if (behaviour.kind === 'stall') return;
      const text = typeof behaviour.body === 'string' ? behaviour.body : JSON.stringify(behaviour.body ?? {});
      res.writeHead(behaviour.status, { 'content-type': 'application/json', ...behaviour.headers });
      res.end(text);
    });
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    seen,
    count: (method, path) => seen.filter((r) => r.method === method && r.path === path).length,
    script(method, path, ...behaviours) {
      scripts.set(`${method} ${path}`, behaviours);
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port nothing listens on (bound, then closed). */
export async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** Polls `condition` every 5 ms until true, or fails after `timeoutMs`. */
export async function until(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = performance.now();
  while (!(await condition())) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** The rejection of `promise` (fails the test if it resolves). */
export async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
