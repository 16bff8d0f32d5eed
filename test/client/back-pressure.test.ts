/**
 * Back-pressure is not an outage (issue 8 §2, DESIGN §2). A real loopback server answers
 * `POST /rpc` with `429` + `Retry-After` (no node headers) while `/health` says 200, and records
 * every request with its arrival time. What must hold, as orderings and counts:
 *   - no request (attempt OR probe) reaches the server before the "not before" time the 429 set
 *     (minus a small slack for timer granularity);
 *   - the 429 starts no outage (no `disconnected`, no probes) and opens no breaker;
 *   - the pause is capped by `retry.maxRetryAfterMs`; Retry-After works as seconds and as an
 *     HTTP date.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createClient, type ClientOptions, type HotcoldClient } from 'hotcold';
import { record, until } from './helpers.js';

/** Timers may fire a few ms early and the two clocks are read at slightly different points. */
const SLACK_MS = 25;

interface Arrival {
  kind: 'rpc' | 'health';
  /** performance.now() (same process and clock as the client's monotonic clock). */
  at: number;
  /** Date.now(), for HTTP-date Retry-After. */
  wallAt: number;
  status: number;
}

type Answer =
  | { status: 429; retryAfter?: string }
  | { status: 503; marked: true }
  | { status: 200 };

interface PacedServer {
  url: string;
  arrivals: Arrival[];
  /** The answers POST /rpc gives, in order; when empty, 200 results. */
  script: Answer[];
  /** Answers to /health, in order; when empty, 200. */
  healthScript: Answer[];
  /** When set, a POST waits for this before being answered (in arrival order). */
  gate?: Promise<void> | undefined;
  close(): Promise<void>;
}

async function startPacedServer(): Promise<PacedServer> {
  const state: Omit<PacedServer, 'url' | 'close'> = { arrivals: [], script: [], healthScript: [] };
  const server = http.createServer((req, res) => {
    const arrival: Arrival = { kind: req.url === '/health' ? 'health' : 'rpc', at: performance.now(), wallAt: Date.now(), status: 0 };
    state.arrivals.push(arrival);
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (body += c));
    req.on('end', () => {
      const answer = arrival.kind === 'health' ? state.healthScript.shift() : state.script.shift();
      const gate = arrival.kind === 'rpc' ? state.gate : undefined;
      const send = (): void => {
        arrival.status = answer?.status ?? 200;
        if (answer?.status === 429) {
          const headers: Record<string, string> = { 'content-type': 'text/plain' };
          if (answer.retryAfter !== undefined) headers['retry-after'] = answer.retryAfter;
          res.writeHead(429, headers);
          res.end('Too Many Requests');
        } else if (answer?.status === 503) {
          res.writeHead(503, { 'content-type': 'text/html', 'x-hotcold-not-forwarded': '1' });
          res.end('<html>no server</html>');
        } else if (arrival.kind === 'health') {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end('{"status":"active","node":"node-a","epoch":1}');
        } else {
          const id = (JSON.parse(body) as { id: number }).id;
          res.writeHead(200, { 'content-type': 'application/json', 'x-hotcold-node': 'node-a', 'x-hotcold-epoch': '1' });
          res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
        }
      };
      if (gate === undefined) send();
      else void gate.then(send);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return Object.assign(state, {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  });
}

let server: PacedServer | undefined;
const clients: HotcoldClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await server?.close();
  server = undefined;
});

function client(url: string, options: Partial<ClientOptions> = {}): HotcoldClient {
  const c = createClient({
    url,
    retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5 },
    reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 500 },
    // A breaker that would open on the first counted failure: a 429 must not be one.
    breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 5000, whenOpen: 'fail' },
    ...options,
  });
  clients.push(c);
  return c;
}

const rpcs = (s: PacedServer): Arrival[] => s.arrivals.filter((a) => a.kind === 'rpc');

describe('back-pressure (429 + Retry-After) is not an outage', () => {
  it('the retry, and every other call, waits out Retry-After; no outage, no probe, no breaker', async () => {
    server = await startPacedServer();
    server.script.push({ status: 429, retryAfter: '1' });
    const c = client(server.url);
    const events = record(c.events$);

    const first = c.call('transfer', { n: 1 });
    await until(() => rpcs(server!).length >= 1 && rpcs(server!)[0]!.status === 429, 5000, 'the 429');
    const refusedAt = rpcs(server).at(0)!.at;
    // Other callers arriving during the pause wait too: they are not sent into it.
    await until(() => events.of('retry').length >= 1, 5000, 'the retry decision');
    const others = Array.from({ length: 5 }, (_, i) => c.call('balance', { i }));
    await expect(first).resolves.toBe('ok');
    await expect(Promise.all(others)).resolves.toHaveLength(5);

    const later = server.arrivals.filter((a) => a !== rpcs(server!)[0]);
    expect(later.length).toBeGreaterThanOrEqual(6);
    for (const a of later) expect(a.at).toBeGreaterThanOrEqual(refusedAt + 1000 - SLACK_MS);
    expect(server.arrivals.filter((a) => a.kind === 'health')).toHaveLength(0);
    expect(events.of('disconnected')).toHaveLength(0);
    expect(events.of('breaker-open')).toHaveLength(0);
    expect(c.state.status).toBe('connected');
    expect(events.of('retry')[0]?.delayMs).toBeGreaterThanOrEqual(1000 - SLACK_MS);
  });

  it('Retry-After as an HTTP date', async () => {
    server = await startPacedServer();
    // Two whole seconds ahead: an HTTP date has second resolution.
    const notBefore = Math.ceil((Date.now() + 2000) / 1000) * 1000;
    server.script.push({ status: 429, retryAfter: new Date(notBefore).toUTCString() });
    const c = client(server.url);
    await expect(c.call('transfer', {})).resolves.toBe('ok');
    const [refused, retried] = rpcs(server);
    expect(refused?.status).toBe(429);
    expect(retried?.wallAt).toBeGreaterThanOrEqual(notBefore - SLACK_MS);
  });

  it('the pause is capped by retry.maxRetryAfterMs (a 1-hour Retry-After does not stall the call)', async () => {
    server = await startPacedServer();
    server.script.push({ status: 429, retryAfter: '3600' });
    const c = client(server.url, { retry: { maxAttempts: 5, minDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 300 } });
    // The outcome, not a speed: within a 5 s deadline the capped pause lets the call succeed.
    await expect(c.call('transfer', {}, { deadlineMs: 5000 })).resolves.toBe('ok');
    const [refused, retried] = rpcs(server);
    expect(retried!.at).toBeGreaterThanOrEqual(refused!.at + 300 - SLACK_MS);
  });

  it('a pause longer than what is left of the deadline fails the call at once, not executed', async () => {
    server = await startPacedServer();
    server.script.push({ status: 429, retryAfter: '5' });
    const c = client(server.url);
    const error = await c.call('transfer', {}, { deadlineMs: 2000 }).catch((e: unknown) => e);
    expect(error).toMatchObject({ kind: 'deadline-exceeded', mayHaveExecuted: false });
    expect(rpcs(server)).toHaveLength(1);
  });

  it("health probes of an outage honour the backend's not-before time too", async () => {
    server = await startPacedServer();
    // Call 1 gets the 429; call 2 (already on the wire) gets the balancer's marked 503, which
    // starts an outage: its probes must still wait for the 429's Retry-After.
    let open: () => void = () => {};
    server.gate = new Promise<void>((resolve) => (open = resolve));
    server.script.push({ status: 429, retryAfter: '1' }, { status: 503, marked: true });
    const c = client(server.url, { breaker: {} });
    const events = record(c.events$);
    const one = c.call('transfer', { n: 1 });
    const two = c.call('transfer', { n: 2 });
    await until(() => rpcs(server!).length >= 2, 5000, 'both calls on the wire');
    // Answer the 429 first, and the 503 only once the client has taken the 429 in.
    const gateFor503 = new Promise<void>((resolve) => {
      const sub = c.events$.subscribe((e) => {
        if (e.type === 'retry') {
          sub.unsubscribe();
          resolve();
        }
      });
    });
    server.gate = undefined;
    open();
    await gateFor503;
    await expect(Promise.all([one, two])).resolves.toEqual(['ok', 'ok']);

    const refusedAt = rpcs(server).find((a) => a.status === 429)!.at;
    const probes = server.arrivals.filter((a) => a.kind === 'health');
    expect(events.of('disconnected')).toHaveLength(1);
    expect(probes.length).toBeGreaterThanOrEqual(1);
    for (const p of probes) expect(p.at).toBeGreaterThanOrEqual(refusedAt + 1000 - SLACK_MS);
  });

  it("a probe's own 429 Retry-After paces the next probe", async () => {
    server = await startPacedServer();
    server.script.push({ status: 503, marked: true });
    server.healthScript.push({ status: 429, retryAfter: '1' });
    const c = client(server.url, { breaker: {} });
    await expect(c.call('transfer', {})).resolves.toBe('ok');
    const probes = server.arrivals.filter((a) => a.kind === 'health');
    expect(probes.length).toBeGreaterThanOrEqual(2);
    expect(probes[0]?.status).toBe(429);
    for (const a of server.arrivals.slice(server.arrivals.indexOf(probes[0]!) + 1)) {
      expect(a.at).toBeGreaterThanOrEqual(probes[0]!.at + 1000 - SLACK_MS);
    }
  });
});
