import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from 'hotcold';
import { startDevBalancer, type DevBalancer } from 'hotcold/testing';
import { until } from './support.js';

interface Backend {
  server: Server;
  url: string;
  healthy: boolean;
  mode: 'ok' | 'die' | 'silent';
  hits: number;
  /** Requests whose connection the balancer closed before they were answered. */
  cut: number;
  close(): Promise<void>;
}

const backends: Backend[] = [];
let balancer: DevBalancer | undefined;

async function backend(name: string): Promise<Backend> {
  const b = { healthy: true, mode: 'ok', hits: 0, cut: 0 } as Backend;
  b.server = createServer((req, res) => {
    if (req.url === '/health') {
      res.writeHead(b.healthy ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify({ status: b.healthy ? 'active' : 'standby', node: name }));
      return;
    }
    b.hits += 1;
    res.once('close', () => {
      if (!res.writableFinished) b.cut += 1;
    });
    req.resume();
    req.once('end', () => {
      if (b.mode === 'die') res.socket?.destroy();
      else if (b.mode === 'ok') res.writeHead(200, { 'x-hotcold-node': name, 'content-type': 'text/plain' }).end(`${name}:${req.method}:${req.url}`);
      // silent: never answers
    });
  });
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.url = `http://127.0.0.1:${(b.server.address() as AddressInfo).port}`;
  b.close = () =>
    new Promise<void>((r) => {
      b.server.close(() => r());
      b.server.closeAllConnections();
    });
  backends.push(b);
  return b;
}

afterEach(async () => {
  await balancer?.close();
  balancer = undefined;
  for (const b of backends.splice(0)) await b.close();
});

describe('dev balancer', () => {
  it('routes to the healthy backend, switches when health changes, counts switches', async () => {
    const a = await backend('A');
    const b = await backend('B');
    b.healthy = false;
    balancer = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 30 });
    const text = async (): Promise<{ status: number; body: string; node: string | null }> => {
      const r = await fetch(`${balancer!.url}/rpc?x=1`, { method: 'POST', body: 'hello' });
      return { status: r.status, body: await r.text(), node: r.headers.get('x-hotcold-node') };
    };
    expect(await text()).toEqual({ status: 200, body: 'A:POST:/rpc?x=1', node: 'A' });
    expect(balancer.current).toBe(a.url);
    a.healthy = false;
    b.healthy = true;
    await until(() => balancer!.current === b.url, 5000, 'switch to B');
    expect((await text()).body).toBe('B:POST:/rpc?x=1');
    const stats = balancer.stats();
    expect(stats.switches).toBeGreaterThanOrEqual(1);
    expect(stats.backends.map((x) => x.healthy)).toEqual([false, true]);
  });

  it('answers an HAProxy-like 503 without node headers when no backend is healthy', async () => {
    const a = await backend('A');
    a.healthy = false;
    balancer = await startDevBalancer({ backends: [a.url], checkIntervalMs: 50 });
    const r = await fetch(`${balancer.url}/rpc`, { method: 'POST', body: '{}' });
    expect(r.status).toBe(503);
    expect(r.headers.get('content-type')).toBe('text/html');
    expect(r.headers.get('x-hotcold-node')).toBeNull();
    // Its own "forwarded nothing" answer carries the mark the client takes as "not executed".
    expect(r.headers.get('x-hotcold-not-forwarded')).toBe('1');
    expect(await r.text()).toContain('No server is available');
    expect(a.hits).toBe(0);
    expect(balancer.stats().noBackend).toBe(1);
  });

  it('redispatches a request whose connection failed before sending; 502 when the backend dies after receiving it', async () => {
    const a = await backend('A');
    const b = await backend('B');
    // Checks far apart: the balancer still believes A is up when it is gone.
    balancer = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 60_000 });
    expect(balancer.current).toBe(a.url);
    await a.close();
    const r = await fetch(`${balancer.url}/rpc`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(200);
    expect(await r.text()).toBe('B:POST:/rpc');
    expect(balancer.stats().redispatches).toBe(1);
    expect(balancer.current).toBe(b.url);
    b.mode = 'die';
    const broken = await fetch(`${balancer.url}/rpc`, { method: 'POST', body: 'x' });
    expect(broken.status).toBe(502);
    expect(broken.headers.get('x-hotcold-node')).toBeNull();
    expect(broken.headers.get('x-hotcold-not-forwarded')).toBeNull(); // it was forwarded: maybe
    expect(b.hits).toBe(2);
    expect(balancer.stats().badGateway).toBe(1);
  });

  it('answers 504 when the backend stays silent past serverTimeoutMs', async () => {
    const a = await backend('A');
    a.mode = 'silent';
    balancer = await startDevBalancer({ backends: [a.url], checkIntervalMs: 50, serverTimeoutMs: 300 });
    const started = Date.now();
    const r = await fetch(`${balancer.url}/rpc`, { method: 'POST', body: 'x' });
    expect(r.status).toBe(504);
    expect(await r.text()).toContain('Gateway Time-out');
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
  });

  it("a client that hangs up is no backend fault: no 502 counted, the backend stays up, nothing redispatched", async () => {
    const a = await backend('A');
    const b = await backend('B');
    a.mode = 'silent';
    balancer = await startDevBalancer({ backends: [a.url, b.url], checkIntervalMs: 60_000 });
    const events: string[] = [];
    balancer.events$.subscribe((event) => events.push(event.type));
    const hangUp = new AbortController();
    const request = fetch(`${balancer.url}/rpc`, { method: 'POST', body: 'x', signal: hangUp.signal }).catch((error: unknown) => error);
    await until(() => a.hits === 1, 5000, 'the call to reach A');
    hangUp.abort();
    await request;
    await until(() => a.cut === 1, 5000, "A to see the balancer cut the call's connection");
    expect(events).not.toContain('bad-gateway');
    expect(balancer.stats().badGateway).toBe(0);
    expect(balancer.stats().statuses[502]).toBeUndefined();
    expect(balancer.current).toBe(a.url);
    expect(b.hits).toBe(0);
  });

  it('validates options and leaves no handle open after close()', async () => {
    await expect(startDevBalancer({ backends: [] })).rejects.toBeInstanceOf(ConfigurationError);
    await expect(startDevBalancer({ backends: ['ftp://x'] })).rejects.toMatchObject({ field: 'backends[0]' });
    await expect(startDevBalancer({ backends: ['http://127.0.0.1:1'], checkIntervalMs: 0 })).rejects.toMatchObject({ field: 'checkIntervalMs' });
    const a = await backend('A');
    const before = process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length;
    const lb = await startDevBalancer({ backends: [a.url], checkIntervalMs: 20 });
    for (let i = 0; i < 5; i += 1) await (await fetch(`${lb.url}/x`, { method: 'POST', body: 'x' })).text();
    await lb.close();
    await new Promise((r) => setTimeout(r, 50));
    // fetch's own keep-alive sockets to the balancer are closed by the balancer's close().
    expect(process.getActiveResourcesInfo().filter((r) => r !== 'TTYWrap').length).toBeLessThanOrEqual(before);
  });
});
