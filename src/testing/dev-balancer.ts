import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { Subject, type Observable } from 'rxjs';
import { ConfigurationError } from '../errors.js';
import {
  rejectUnknownKeys,
  requireHttpUrl,
  requireNonEmptyString,
  requireNonNegativeInteger,
  requireObject,
  requirePositiveInteger,
} from '../shared/validate.js';
import { DEFAULT_HEALTH_PATH, HEADER_NOT_FORWARDED } from '../wire.js';
import { BALANCER_502_BODY, BALANCER_503_BODY, BALANCER_504_BODY } from './fault-modes.js';
import { setRepeating, setTimer } from '../shared/timer.js';
import { sleep } from '../shared/sleep.js';

/**
 * A development load balancer with HAProxy's failover semantics, for the demo and tests (not
 * for production traffic): active health checks on `/health`, all traffic to one healthy
 * backend, and the same answers HAProxy gives when things break —
 *
 * - no healthy backend → `503` HTML, no node headers, marked `X-Hotcold-Not-Forwarded: 1`
 *   (the client: "nothing was forwarded, not executed" — DESIGN §1's only balancer evidence);
 * - connecting to the backend failed, so nothing was sent → redispatch to another healthy
 *   backend (HAProxy `retries` + `option redispatch`), else `503`;
 * - the connection broke after the request was forwarded → `502` (it may have run);
 * - the backend stayed silent past `serverTimeoutMs` → `504` (it may have run).
 */

/** Options of {@link startDevBalancer}; a bad value throws a `ConfigurationError` naming the field. */
export interface DevBalancerOptions {
  /** Backend base URLs, e.g. `http://127.0.0.1:4001`. Order is preference order. */
  backends: string[];
  /**
   * Port to listen on (0: a free one).
   * @default 0
   */
  port?: number;
  /**
   * Address to listen on.
   * @default '127.0.0.1'
   */
  host?: string;
  /**
   * Health check interval, in ms (HAProxy `inter`).
   * @default 100
   */
  checkIntervalMs?: number;
  /**
   * Path of each backend's health endpoint; `200` means up.
   * @default '/health'
   */
  healthPath?: string;
  /**
   * A check slower than this fails, in ms.
   * @default 2 × checkIntervalMs, within [500, 2000] (a loaded machine must not flap)
   */
  checkTimeoutMs?: number;
  /**
   * Consecutive failed checks before a backend is down (HAProxy `fall`).
   * @default 1
   */
  fall?: number;
  /**
   * Consecutive passed checks before a backend is up (HAProxy `rise`).
   * @default 1
   */
  rise?: number;
  /**
   * Connect timeout per attempt, in ms (HAProxy `timeout connect`).
   * @default 1000
   */
  connectTimeoutMs?: number;
  /**
   * Silence from the backend before `504`, in ms (HAProxy `timeout server`).
   * @default 30000
   */
  serverTimeoutMs?: number;
  /**
   * Extra attempts on another backend when the connection failed before sending.
   * @default 2
   */
  retries?: number;
  /**
   * Largest request body the balancer buffers, in bytes.
   * @default 8388608 (8 MiB)
   */
  maxBodyBytes?: number;
}

/** One backend's counters in {@link DevBalancerStats}. */
export interface BackendStats {
  /** The backend's origin. */
  url: string;
  /** Whether the health checks consider it up now. */
  healthy: boolean;
  /** Health checks made. */
  checks: number;
  /** Health checks that failed. */
  failedChecks: number;
  /** Requests forwarded to it. */
  requests: number;
}

/** Counters since the balancer started (see {@link DevBalancer.stats}). */
export interface DevBalancerStats {
  /** The backend that gets the traffic now, `undefined` when none is healthy. */
  current: string | undefined;
  /** Times the current backend changed. */
  switches: number;
  /** Requests received. */
  requests: number;
  /** Answers by status, including the balancer's own 502/503/504. */
  statuses: Record<number, number>;
  /** `503`s answered because no backend was healthy. */
  noBackend: number;
  /** Requests sent to another backend after a failed connect. */
  redispatches: number;
  /** `502`s: the connection broke after the request was forwarded. */
  badGateway: number;
  /** `504`s: the backend stayed silent past `serverTimeoutMs`. */
  gatewayTimeout: number;
  /** Per backend, in the order of `options.backends`. */
  backends: BackendStats[];
}

/** What {@link DevBalancer.events$} reports. Backends are named by their origin. */
export type DevBalancerEvent =
  | {
      /** A backend's health checks passed `rise` times. */
      type: 'backend-up';
      /** The backend. */
      backend: string;
    }
  | {
      /** A backend's health checks failed `fall` times. */
      type: 'backend-down';
      /** The backend. */
      backend: string;
      /** Why its last check failed. */
      reason: string;
    }
  | {
      /** Traffic moved to another backend (or to none). */
      type: 'switch';
      /** The previous backend, `undefined` when there was none. */
      from: string | undefined;
      /** The new backend, `undefined` when none is healthy. */
      to: string | undefined;
    }
  | {
      /** A request was answered `503` because no backend was healthy. */
      type: 'no-backend';
    }
  | {
      /** A request whose connect failed was sent to another backend. */
      type: 'redispatch';
      /** The backend that could not be reached. */
      from: string;
      /** Why. */
      reason: string;
    }
  | {
      /** A request was answered `502`: the connection broke after forwarding. */
      type: 'bad-gateway';
      /** The backend. */
      backend: string;
      /** What broke. */
      reason: string;
    }
  | {
      /** A request was answered `504`: the backend stayed silent past `serverTimeoutMs`. */
      type: 'gateway-timeout';
      /** The backend. */
      backend: string;
    };

/** A running dev balancer (see {@link startDevBalancer}). */
export interface DevBalancer {
  /** Its base URL, e.g. `http://127.0.0.1:41234`: give it to `createClient` as `url`. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** The backend new requests go to, if any is healthy. */
  readonly current: string | undefined;
  /** Health changes, switches, redispatches, `502`/`503`/`504` answers. */
  readonly events$: Observable<DevBalancerEvent>;
  /** A snapshot of its counters. */
  stats(): DevBalancerStats;
  /** Runs one round of health checks now. */
  checkNow(): Promise<void>;
  /** Stops checks, closes the listener and every connection, completes `events$`. */
  close(): Promise<void>;
}

const HTML = { 502: BALANCER_502_BODY, 503: BALANCER_503_BODY, 504: BALANCER_504_BODY } as const;

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);

function forwardHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name)) out[name] = value;
  }
  return out;
}

interface Backend {
  url: string;
  hostname: string;
  port: number;
  healthy: boolean;
  passes: number;
  fails: number;
  checks: number;
  failedChecks: number;
  requests: number;
  checking: boolean;
}

type ForwardOutcome = 'done' | 'not-sent';

function resolveOptions(input: DevBalancerOptions) {
  const o = requireObject('options', input);
  rejectUnknownKeys('', o, [
    'backends',
    'port',
    'host',
    'checkIntervalMs',
    'healthPath',
    'checkTimeoutMs',
    'fall',
    'rise',
    'connectTimeoutMs',
    'serverTimeoutMs',
    'retries',
    'maxBodyBytes',
  ]);
  if (!Array.isArray(o.backends) || o.backends.length === 0) throw new ConfigurationError('backends', 'must be a non-empty array of http URLs');
  const backends = o.backends.map((b: unknown, i: number) => requireHttpUrl(`backends[${i}]`, b));
  const checkIntervalMs = o.checkIntervalMs === undefined ? 100 : requirePositiveInteger('checkIntervalMs', o.checkIntervalMs);
  const healthPath = o.healthPath === undefined ? DEFAULT_HEALTH_PATH : requireNonEmptyString('healthPath', o.healthPath);
  if (!healthPath.startsWith('/')) throw new ConfigurationError('healthPath', "must start with '/'");
  return {
    backends,
    port: o.port === undefined ? 0 : requireNonNegativeInteger('port', o.port),
    host: o.host === undefined ? '127.0.0.1' : requireNonEmptyString('host', o.host),
    checkIntervalMs,
    healthPath,
    checkTimeoutMs: o.checkTimeoutMs === undefined ? Math.min(2000, Math.max(500, 2 * checkIntervalMs)) : requirePositiveInteger('checkTimeoutMs', o.checkTimeoutMs),
    fall: o.fall === undefined ? 1 : requirePositiveInteger('fall', o.fall),
    rise: o.rise === undefined ? 1 : requirePositiveInteger('rise', o.rise),
    connectTimeoutMs: o.connectTimeoutMs === undefined ? 1000 : requirePositiveInteger('connectTimeoutMs', o.connectTimeoutMs),
    serverTimeoutMs: o.serverTimeoutMs === undefined ? 30_000 : requirePositiveInteger('serverTimeoutMs', o.serverTimeoutMs),
    retries: o.retries === undefined ? 2 : requireNonNegativeInteger('retries', o.retries),
    maxBodyBytes: o.maxBodyBytes === undefined ? 8 << 20 : requirePositiveInteger('maxBodyBytes', o.maxBodyBytes),
  };
}

/**
 * Starts a development load balancer with HAProxy's failover semantics on loopback (see the
 * module's notes above: health checks, one active backend, HAProxy's `502`/`503`/`504`). For the
 * demo and tests, not for production traffic.
 *
 * @param input - Backends, port, check and timeout settings; see {@link DevBalancerOptions}.
 * @returns The running balancer, once it listens.
 * @throws {ConfigurationError} when an option is invalid (naming the field).
 * @example
 * ```ts
 * import { startDevBalancer } from 'hotcold/testing';
 *
 * const balancer = await startDevBalancer({ backends: ['http://127.0.0.1:4001', 'http://127.0.0.1:4002'] });
 * balancer.events$.subscribe((event) => console.log(event.type));
 * console.log(balancer.url, balancer.stats().current);
 * await balancer.close();
 * ```
 */
export async function startDevBalancer(input: DevBalancerOptions): Promise<DevBalancer> {
  const opts = resolveOptions(input);
  const backends: Backend[] = opts.backends.map((u) => ({
    url: u.origin,
    hostname: u.hostname.replace(/^\[|\]$/g, ''),
    port: Number(u.port || 80),
    healthy: false,
    passes: 0,
    fails: 0,
    checks: 0,
    failedChecks: 0,
    requests: 0,
    checking: false,
  }));
  const events$ = new Subject<DevBalancerEvent>();
  const stats = { switches: 0, requests: 0, statuses: {} as Record<number, number>, noBackend: 0, redispatches: 0, badGateway: 0, gatewayTimeout: 0 };
  // Keep-alive to backends, like HAProxy's server-side connection reuse. Idle sockets are
  // dropped after 4 s, before the node's 15 s keep-alive timeout, so a reused socket is never
  // one the node is closing.
  const agent = new Agent({ keepAlive: true, maxSockets: 512, timeout: 4000 });
  const clientSockets = new Set<Socket>();
  const upstreams = new Set<{ destroy(): void }>();
  let current: Backend | undefined;
  let lastServed: Backend | undefined;
  let closed = false;

  const count = (status: number): void => {
    stats.statuses[status] = (stats.statuses[status] ?? 0) + 1;
  };

  function setHealth(backend: Backend, healthy: boolean, reason: string): void {
    if (backend.healthy === healthy) return;
    backend.healthy = healthy;
    events$.next(healthy ? { type: 'backend-up', backend: backend.url } : { type: 'backend-down', backend: backend.url, reason });
    if (!healthy && current === backend) choose(undefined);
    if (healthy && current === undefined) choose(undefined);
  }

  /** The backend for a new request: stay on the current one while it is healthy. */
  function choose(exclude: Set<Backend> | undefined): Backend | undefined {
    let next: Backend | undefined = current && current.healthy && !exclude?.has(current) ? current : undefined;
    next ??= backends.find((b) => b.healthy && !exclude?.has(b));
    if (next !== current && !(exclude && next === undefined)) {
      const from = current?.url;
      current = next;
      // A switch is serving a different backend than the last one served, outage or not.
      if (next !== undefined && lastServed !== undefined && next !== lastServed) stats.switches += 1;
      if (next !== undefined) lastServed = next;
      events$.next({ type: 'switch', from, to: next?.url });
    }
    return next;
  }

  function check(backend: Backend): Promise<void> {
    if (backend.checking || closed) return Promise.resolve();
    backend.checking = true;
    return new Promise<void>((resolve) => {
      let settled = false;
      const finish = (ok: boolean, reason: string): void => {
        if (settled) return;
        settled = true;
        timer.clear();
        upstreams.delete(req);
        req.destroy();
        backend.checking = false;
        backend.checks += 1;
        if (ok) {
          backend.fails = 0;
          backend.passes += 1;
          if (backend.passes >= opts.rise) setHealth(backend, true, reason);
        } else {
          backend.failedChecks += 1;
          backend.passes = 0;
          backend.fails += 1;
          if (backend.fails >= opts.fall) setHealth(backend, false, reason);
        }
        resolve();
      };
      // A fresh connection per check, as HAProxy does: a check must see a dead listener.
      const req = httpRequest(
        { hostname: backend.hostname, port: backend.port, path: opts.healthPath, method: 'GET', agent: false, headers: { connection: 'close' } },
        (res) => {
          res.resume();
          res.once('end', () => finish(res.statusCode === 200, `health ${res.statusCode ?? 0}`));
          res.once('error', () => finish(false, 'health answer broke'));
        },
      );
      // Owned like a forwarded request, so close() ends a check stuck on a frozen backend at once.
      upstreams.add(req);
      const timer = setTimer(() => finish(false, 'health check timed out'), opts.checkTimeoutMs);
      req.once('error', (error: NodeJS.ErrnoException) => finish(false, error.code ?? 'health check failed'));
      req.end();
    });
  }

  const checkAll = (): Promise<void> => Promise.all(backends.map((b) => check(b))).then(() => undefined);

  function sendOwn(res: ServerResponse, status: 502 | 503 | 504): void {
    count(status);
    if (res.headersSent || res.destroyed) {
      res.destroy();
      return;
    }
    const headers: OutgoingHttpHeaders = { 'content-type': 'text/html', 'cache-control': 'no-cache', 'content-length': String(Buffer.byteLength(HTML[status])) };
    // Only the 503 is sent when nothing reached a backend; 502/504 come after forwarding (maybe).
    if (status === 503) headers[HEADER_NOT_FORWARDED] = '1';
    res.writeHead(status, headers);
    res.end(HTML[status]);
  }

  function forward(backend: Backend, req: IncomingMessage, body: Buffer, res: ServerResponse): Promise<ForwardOutcome> {
    return new Promise<ForwardOutcome>((resolve) => {
      backend.requests += 1;
      let connected = false;
      let answered = false;
      let settled = false;
      const headers = forwardHeaders(req.headers);
      headers['content-length'] = String(body.length);
      headers['x-forwarded-for'] = req.socket.remoteAddress ?? '';
      const upstream = httpRequest({ hostname: backend.hostname, port: backend.port, method: req.method, path: req.url, headers, agent });
      upstreams.add(upstream);
      const done = (outcome: ForwardOutcome): void => {
        if (settled) return;
        settled = true;
        connectTimer.clear();
        serverTimer.clear();
        upstreams.delete(upstream);
        res.off('close', onClientClose);
        resolve(outcome);
      };
      const connectTimer = setTimer(() => {
        if (!connected) {
          upstream.destroy(new Error('connect timeout'));
        }
      }, opts.connectTimeoutMs);
      const serverTimer = setTimer(() => {
        if (answered) return;
        stats.gatewayTimeout += 1;
        events$.next({ type: 'gateway-timeout', backend: backend.url });
        sendOwn(res, 504);
        upstream.destroy();
        done('done');
      }, opts.serverTimeoutMs);
      // The client hung up before its answer was sent: the upstream is cut on its behalf. That is
      // no backend fault (no 502 counted, no backend marked down) and nothing to redispatch.
      let clientGone = false;
      const onClientClose = (): void => {
        if (res.writableFinished) return;
        clientGone = true;
        upstream.destroy();
      };
      res.once('close', onClientClose);
      upstream.once('socket', (socket: Socket) => {
        if (socket.connecting) socket.once('connect', () => (connected = true));
        else connected = true;
      });
      upstream.once('error', (error: NodeJS.ErrnoException) => {
        if (settled) return;
        if (clientGone) {
          done('done');
          return;
        }
        if (!connected) {
          // Nothing reached the backend: safe to send elsewhere (HAProxy redispatch).
          if (backend.healthy) setHealth(backend, false, `connect failed: ${error.code ?? error.message}`);
          done('not-sent');
          return;
        }
        if (!answered) {
          stats.badGateway += 1;
          events$.next({ type: 'bad-gateway', backend: backend.url, reason: error.code ?? error.message });
          sendOwn(res, 502);
        } else {
          res.destroy();
        }
        done('done');
      });
      upstream.once('response', (upstreamRes: IncomingMessage) => {
        answered = true;
        serverTimer.clear();
        count(upstreamRes.statusCode ?? 0);
        res.writeHead(upstreamRes.statusCode ?? 502, forwardHeaders(upstreamRes.headers));
        upstreamRes.pipe(res);
        upstreamRes.once('end', () => done('done'));
        upstreamRes.once('error', () => {
          res.destroy();
          done('done');
        });
        upstreamRes.once('aborted', () => {
          res.destroy();
          done('done');
        });
      });
      upstream.end(body);
    });
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    stats.requests += 1;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > opts.maxBodyBytes) {
        res.writeHead(413, { connection: 'close', 'content-length': '0' });
        res.end();
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const body = Buffer.concat(chunks);
    const tried = new Set<Backend>();
    for (let attempt = 0; attempt <= opts.retries && !closed; attempt += 1) {
      const backend = choose(tried.size > 0 ? tried : undefined);
      if (!backend) break;
      const outcome = await forward(backend, req, body, res);
      if (outcome === 'done') return;
      tried.add(backend);
      stats.redispatches += 1;
      events$.next({ type: 'redispatch', from: backend.url, reason: 'connection failed before the request was sent' });
    }
    stats.noBackend += 1;
    events$.next({ type: 'no-backend' });
    sendOwn(res, 503);
  }

  const server = createServer((req, res) => {
    onRequest(req, res).catch(() => res.destroy());
  });
  server.keepAliveTimeout = 15_000;
  server.on('connection', (socket: Socket) => {
    clientSockets.add(socket);
    socket.once('close', () => clientSockets.delete(socket));
  });

  await checkAll();
  const timer = setRepeating(() => void checkAll(), opts.checkIntervalMs);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    timer.clear();
    agent.destroy();
    throw error;
  }
  const info = server.address() as AddressInfo;
  const url = `http://${info.family === 'IPv6' ? `[${info.address}]` : info.address}:${info.port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port: info.port,
    get current() {
      return current?.healthy ? current.url : undefined;
    },
    events$: events$.asObservable(),
    stats: () => ({
      current: current?.healthy ? current.url : undefined,
      ...stats,
      statuses: { ...stats.statuses },
      backends: backends.map((b) => ({ url: b.url, healthy: b.healthy, checks: b.checks, failedChecks: b.failedChecks, requests: b.requests })),
    }),
    checkNow: checkAll,
    close() {
      closing ??= (async () => {
        closed = true;
        timer.clear();
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
          for (const upstream of upstreams) upstream.destroy();
          for (const socket of clientSockets) socket.destroy();
        });
        agent.destroy();
        // Let an in-flight check notice its timer (they hold no socket past destroy).
        while (backends.some((b) => b.checking)) await sleep(5);
        events$.complete();
      })();
      return closing;
    },
  };
}
