import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BALANCER_503_BODY, FaultRpcError, startFaultServer, type FaultServer } from 'hotcold/testing';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection (agent: false), so no keep-alive state leaks between cases. */
function request(url: string, method: string, body?: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method, agent: false, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const rpc = (id: number | string, method = 'echo', params: unknown = { a: 1 }): string =>
  JSON.stringify({ jsonrpc: '2.0', id, method, params });

let server: FaultServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('fault server', () => {
  it('answers JSON-RPC with node headers and records what it received', async () => {
    server = await startFaultServer({ node: 'a', epoch: 7 });
    const answer = await request(server.rpcUrl, 'POST', rpc(1), {
      'idempotency-key': 'k1',
      'x-hotcold-attempt': '2',
      authorization: 'Bearer secret-token',
    });
    expect(answer.status).toBe(200);
    expect(answer.headers['x-hotcold-node']).toBe('a');
    expect(answer.headers['x-hotcold-epoch']).toBe('7');
    expect(answer.headers['x-hotcold-dedup']).toBeUndefined();
    expect(JSON.parse(answer.body)).toEqual({ jsonrpc: '2.0', id: 1, result: { method: 'echo', params: { a: 1 } } });
    const [r] = server.requests;
    expect(r).toMatchObject({
      seq: 1,
      mode: 'ok',
      method: 'echo',
      id: 1,
      idempotencyKey: 'k1',
      attempt: 2,
      authorization: 'Bearer secret-token',
      executed: true,
      outcome: 'answered',
      node: 'a',
      epoch: 7,
    });
  });

  it('runs a custom handler, including JSON-RPC errors', async () => {
    server = await startFaultServer({
      handler: (method, params) => {
        if (method === 'fail') throw new FaultRpcError(-32050, 'nope', { why: 'test' });
        return { doubled: (params as { n: number }).n * 2 };
      },
    });
    const ok = await request(server.rpcUrl, 'POST', rpc(1, 'double', { n: 21 }));
    expect(JSON.parse(ok.body).result).toEqual({ doubled: 42 });
    const err = await request(server.rpcUrl, 'POST', rpc(2, 'fail'));
    expect(JSON.parse(err.body)).toEqual({ jsonrpc: '2.0', id: 2, error: { code: -32050, message: 'nope', data: { why: 'test' } } });
  });

  it('consumes queued modes one per request, then falls back to the global mode', async () => {
    server = await startFaultServer();
    server.enqueue('balancer-503', { mode: 'not-active', retryAfter: '3' });
    const first = await request(server.rpcUrl, 'POST', rpc(1));
    expect(first.status).toBe(503);
    expect(first.body).toBe(BALANCER_503_BODY);
    expect(first.headers['x-hotcold-node']).toBeUndefined();
    const second = await request(server.rpcUrl, 'POST', rpc(2));
    expect(second.status).toBe(503);
    expect(second.headers['retry-after']).toBe('3');
    expect(second.headers['x-hotcold-node']).toBe('fault-node');
    expect(JSON.parse(second.body)).toMatchObject({ error: 'NOT_ACTIVE' });
    const third = await request(server.rpcUrl, 'POST', rpc(3));
    expect(third.status).toBe(200);
    expect(server.requests.map((r) => [r.mode, r.executed])).toEqual([
      ['balancer-503', false],
      ['not-active', false],
      ['ok', true],
    ]);
  });

  it('refuses connections and resumes on the same port', async () => {
    server = await startFaultServer();
    await server.refuse();
    await expect(request(server.rpcUrl, 'POST', rpc(1))).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    await server.resume();
    expect((await request(server.rpcUrl, 'POST', rpc(2))).status).toBe(200);
    expect(server.requests).toHaveLength(1);
    expect(() => server?.enqueue('refuse')).toThrow(/refuse/);
  });

  it('resets on accept without reading, and after reading the request', async () => {
    server = await startFaultServer();
    server.enqueue('reset-on-accept', 'reset-after-request');
    await expect(request(server.rpcUrl, 'POST', rpc(1))).rejects.toMatchObject({ code: 'ECONNRESET' });
    await expect(request(server.rpcUrl, 'POST', rpc(2))).rejects.toMatchObject({ code: 'ECONNRESET' });
    expect(server.requests.map((r) => [r.mode, r.method, r.executed, r.outcome])).toEqual([
      ['reset-on-accept', undefined, false, 'reset'],
      ['reset-after-request', 'echo', true, 'reset'],
    ]);
  });

  it('deduplicates by Idempotency-Key when dedup is on', async () => {
    let runs = 0;
    server = await startFaultServer({ dedup: true, handler: () => ++runs });
    const a = await request(server.rpcUrl, 'POST', rpc(1), { 'idempotency-key': 'same' });
    const b = await request(server.rpcUrl, 'POST', rpc(2), { 'idempotency-key': 'same' });
    expect(a.headers['x-hotcold-dedup']).toBe('1');
    expect(JSON.parse(a.body).result).toBe(1);
    expect(JSON.parse(b.body)).toEqual({ jsonrpc: '2.0', id: 2, result: 1 });
    expect(runs).toBe(1);
    expect(server.requests.map((r) => r.outcome)).toEqual(['answered', 'deduplicated']);
  });

  it('switches node identity and health', async () => {
    server = await startFaultServer();
    expect((await request(`${server.url}/health`, 'GET')).status).toBe(200);
    server.setNode('b', 9);
    server.setHealth('standby');
    const h = await request(`${server.url}/health`, 'GET');
    expect(h.status).toBe(503);
    expect(JSON.parse(h.body)).toEqual({ status: 'standby', node: 'b', epoch: 9 });
    const a = await request(server.rpcUrl, 'POST', rpc(1));
    expect(a.headers['x-hotcold-node']).toBe('b');
    expect(a.headers['x-hotcold-epoch']).toBe('9');
    expect(server.healthRequests).toBe(2);
  });

  it('produces the malformed answers', async () => {
    server = await startFaultServer();
    server.enqueue('garbage', 'not-jsonrpc', 'id-mismatch', { mode: 'huge', bytes: 1000 }, 'rpc-error', 'unauthorized', 'forbidden', '502', '504');
    const answers: Answer[] = [];
    for (let i = 1; i <= 9; i++) answers.push(await request(server.rpcUrl, 'POST', rpc(i)));
    expect(() => JSON.parse(answers[0]?.body ?? '')).toThrow();
    expect(JSON.parse(answers[1]?.body ?? '')).not.toHaveProperty('jsonrpc');
    expect(JSON.parse(answers[2]?.body ?? '').id).toBe(4);
    expect(answers[3]?.body.length).toBe(1000);
    expect(JSON.parse(answers[3]?.body ?? '').id).toBe(4);
    expect(JSON.parse(answers[4]?.body ?? '').error).toEqual({ code: -32000, message: 'fault server error', data: { fault: true } });
    expect(answers.slice(5).map((a) => a.status)).toEqual([401, 403, 502, 504]);
    expect(answers[7]?.headers['x-hotcold-node']).toBeUndefined();
    expect(server.requests.map((r) => r.executed)).toEqual([true, true, true, true, true, false, false, false, false]);
  });

  it('stalls and sends headers then silence until closed; close frees the port and every socket', async () => {
    server = await startFaultServer();
    server.enqueue('stall', 'headers-then-silence');
    const stalled = request(server.rpcUrl, 'POST', rpc(1));
    stalled.catch(() => undefined);
    const silent = request(server.rpcUrl, 'POST', rpc(2));
    silent.catch(() => undefined);
    await server.nextRequest();
    while (server.requests.length < 2) await server.nextRequest();
    // The record appears when the handler starts; its outcome is set once the answer is chosen:
    // waited for (no fixed 20 ms a loaded machine may stretch), then checked.
    const started = server;
    const chosen = (): boolean => started.requests.every((r) => r.outcome !== 'answered');
    for (let i = 0; i < 500 && !chosen(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.requests.map((r) => r.outcome)).toEqual(['stalled', 'headers-only']);
    expect(server.openConnections).toBe(2);
    const port = server.port;
    await server.close();
    await expect(stalled).rejects.toBeDefined();
    await expect(silent).rejects.toBeDefined();
    expect(server.openConnections).toBe(0);
    // The port is free: something else can listen on it.
    const probe = net.createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, '127.0.0.1', () => resolve());
    });
    await new Promise<void>((resolve) => probe.close(() => resolve()));
    server = undefined;
  });

  it('rejects bad options by field', async () => {
    await expect(startFaultServer({ epoch: -1 })).rejects.toMatchObject({ name: 'ConfigurationError', field: 'epoch' });
    await expect(startFaultServer({ mode: 'nonsense' as never })).rejects.toMatchObject({ field: 'mode' });
  });
});

describe('fault server health under outage modes', () => {
  it('answers probes like the balancer or a standby would', async () => {
    server = await startFaultServer();
    await server.setMode('balancer-503');
    const a = await request(`${server.url}/health`, 'GET');
    expect([a.status, a.body, a.headers['x-hotcold-node']]).toEqual([503, BALANCER_503_BODY, undefined]);
    await server.setMode('not-active');
    const b = await request(`${server.url}/health`, 'GET');
    expect([b.status, JSON.parse(b.body).status]).toEqual([503, 'standby']);
    await server.setMode('ok');
    expect((await request(`${server.url}/health`, 'GET')).status).toBe(200);
  });
});
