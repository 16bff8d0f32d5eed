/**
 * A loopback REST server for the pipeline's tests: `/rpc` answers per the current mode, `/health`
 * says whether it serves. Every request is counted, so tests can check what went out.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { PolicyEvent } from 'hotcold';
import type { Observable } from 'rxjs';

export type ServerMode =
  /** 200 `{"ok":true}` with the node headers. */
  | 'ok'
  /** A balancer's own 503 that forwarded nothing (`X-Hotcold-Not-Forwarded: 1`). */
  | 'not-forwarded'
  /** A header-less 503 (it may have been forwarded). */
  | 'plain-503'
  /** The socket is destroyed after the request was read (it reached the server). */
  | 'reset'
  /** 429 with `Retry-After: 1`. */
  | 'too-many'
  /** 409 Conflict: an answer. */
  | 'conflict'
  /** Never answers. */
  | 'hang';

export interface TestServer {
  url: string;
  mode: ServerMode;
  /** `/health` answers 200 when true, 503 when false. */
  healthy: boolean;
  node: string;
  epoch: number;
  /** `/rpc` requests received. */
  readonly calls: number;
  /** `/health` requests received. */
  readonly probes: number;
  /** `/rpc` requests being handled right now, and the most at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  resetMax(): void;
  close(): Promise<void>;
}

export async function startTestServer(): Promise<TestServer> {
  let calls = 0;
  let probes = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sockets = new Set<Socket>();
  const hanging = new Set<http.ServerResponse>();
  const state = { mode: 'ok' as ServerMode, healthy: true, node: 'node-a', epoch: 1 };
  const server = http.createServer((req, res) => {
    const identity = { 'x-hotcold-node': state.node, 'x-hotcold-epoch': String(state.epoch) };
    if (req.url === '/health') {
      probes++;
      res.writeHead(state.healthy ? 200 : 503, { 'content-type': 'application/json', ...(state.healthy ? identity : {}) });
      res.end(JSON.stringify({ status: state.healthy ? 'active' : 'down' }));
      return;
    }
    calls++;
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    const done = (): void => {
      inFlight--;
    };
    req.resume();
    req.on('end', () => {
      switch (state.mode) {
        case 'ok':
          res.writeHead(200, { 'content-type': 'application/json', ...identity });
          res.end(JSON.stringify({ ok: true, node: state.node }), done);
          return;
        case 'not-forwarded':
          res.writeHead(503, { 'content-type': 'text/plain', 'x-hotcold-not-forwarded': '1' });
          res.end('no server available', done);
          return;
        case 'plain-503':
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('upstream connect error or disconnect/reset before headers', done);
          return;
        case 'reset':
          done();
          req.socket.destroy();
          return;
        case 'too-many':
          res.writeHead(429, { 'retry-after': '1', 'content-type': 'text/plain' });
          res.end('slow down', done);
          return;
        case 'conflict':
          res.writeHead(409, { 'content-type': 'application/json', ...identity });
          res.end(JSON.stringify({ error: 'conflict' }), done);
          return;
        case 'hang':
          hanging.add(res);
          res.on('close', done);
          return;
      }
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get mode() {
      return state.mode;
    },
    set mode(mode: ServerMode) {
      state.mode = mode;
    },
    get healthy() {
      return state.healthy;
    },
    set healthy(value: boolean) {
      state.healthy = value;
    },
    get node() {
      return state.node;
    },
    set node(value: string) {
      state.node = value;
    },
    get epoch() {
      return state.epoch;
    },
    set epoch(value: number) {
      state.epoch = value;
    },
    get calls() {
      return calls;
    },
    get probes() {
      return probes;
    },
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    resetMax() {
      maxInFlight = inFlight;
    },
    async close() {
      for (const res of hanging) res.destroy();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Waits for a condition (no sleeps as assertions: the machine may be loaded). */
export async function until(condition: () => boolean, timeoutMs = 10_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export function recordEvents(events$: Observable<PolicyEvent>): { all: PolicyEvent[]; of(type: PolicyEvent['type']): PolicyEvent[] } {
  const all: PolicyEvent[] = [];
  events$.subscribe((event) => all.push(event));
  return { all, of: (type) => all.filter((e) => e.type === type) };
}
