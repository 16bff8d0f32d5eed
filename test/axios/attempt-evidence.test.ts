/**
 * The evidence of an attempt the pipeline ends itself (its timeout, the caller's abort), against
 * real loopback servers: the request is read as it stood at that moment, before the abort tears
 * it down (destroying a socket that is still connecting makes it look like one that connected).
 * A request that never had a connected socket — its connection still in the handshake, or the
 * request still queued in the agent behind another — was not sent: "not executed", and a keyless
 * POST is sent again.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { createInterface } from 'node:readline';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy, type AttachedPolicy } from 'hotcold/axios';
import { startScriptedServer, until } from './helpers.js';
import { TEST_CERT, TEST_KEY } from './tls-fixture.js';
import { cleanupsAfterEach, FAST, rpcFailure } from './evidence-kit.js';


const cleanups = cleanupsAfterEach();

/** The rejection of `promise` as the RPCException it must be. */
/** A server whose `GET /hold` never answers, and an axios instance on an agent with one socket. */
async function agentWithOneSocket(): Promise<{ server: Awaited<ReturnType<typeof startScriptedServer>>; agent: http.Agent; api: ReturnType<typeof axios.create> }> {
  const server = await startScriptedServer();
  cleanups.push(() => server.close());
  server.script('GET', '/hold', { kind: 'stall' });
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  cleanups.push(() => agent.destroy());
  return { server, agent, api: axios.create({ baseURL: server.url, httpAgent: agent }) };
}

/** Takes the agent's one socket with a request that never ends; resolves once the server has it. */
async function holdTheSocket(
  api: ReturnType<typeof axios.create>,
  server: Awaited<ReturnType<typeof startScriptedServer>>,
): Promise<{ readonly ended: Promise<unknown> }> {
  const ended = api.get('/hold').catch(() => undefined);
  await until(() => server.count('GET', '/hold') === 1, 10_000, 'the held request');
  // Wrapped: a promise returned as such would be awaited to its end, which never comes.
  return { ended };
}


/**
 * A port whose TCP handshakes never complete: a listener in another process with the smallest
 * backlog and an event loop that never runs again (so it accepts nothing), its accept queue
 * filled by connections of ours. The kernel then drops every further SYN: a connect stays
 * `connecting` until it is given up.
 */
async function unacceptingPort(): Promise<number> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      '-e',
      `const s = require('node:net').createServer();
       s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => {
         process.stdout.write(s.address().port + '\\n', () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0));
       });`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  cleanups.push(() => {
    child.kill('SIGKILL');
  });
  const port = Number(await new Promise<string>((resolve) => createInterface({ input: child.stdout as NodeJS.ReadableStream }).once('line', resolve)));
  const fillers: net.Socket[] = [];
  let connected = 0;
  for (let i = 0; i < 8; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('error', () => undefined);
    socket.once('connect', () => connected++);
    fillers.push(socket);
  }
  cleanups.push(() => {
    for (const socket of fillers) socket.destroy();
  });
  // On loopback a handshake completes within connect(): once one filler is connected and the
  // loop has turned, every filler that will connect has. Linux queues backlog + 1 of them; the
  // ones beyond hang, as ours will.
  await until(() => connected >= 1, 10_000, 'a filler connection');
  await new Promise((resolve) => setImmediate(resolve));
  expect(fillers.some((socket) => socket.connecting), 'the accept queue is full').toBe(true);
  return port;
}

/** The attempts the policy starts, as its events tell them. */
function attemptsOf(handle: AttachedPolicy): Array<{ method: string; attempt: number }> {
  const attempts: Array<{ method: string; attempt: number }> = [];
  const subscription = handle.policy.events$.subscribe((e) => {
    if (e.type === 'attempt') attempts.push({ method: e.method, attempt: e.attempt });
  });
  cleanups.push(() => subscription.unsubscribe());
  return attempts;
}

describe('an attempt the pipeline ends itself', () => {
  it('times out while its TCP connection is still in the handshake: "not executed", and a keyless POST is sent again', async () => {
    const port = await unacceptingPort();
    const agent = new http.Agent();
    cleanups.push(() => agent.destroy());
    const api = axios.create({ baseURL: `http://127.0.0.1:${port}`, httpAgent: agent });
    const handle = attachPolicy(api, { ...FAST, timeoutMs: 300 });
    cleanups.push(() => handle.detach());
    const attempts = attemptsOf(handle);
    const error = await rpcFailure(api.post('/transfers', { amount: 5 }));
    expect(error.mayHaveExecuted).toBe(false);
    expect(attempts.map((a) => a.attempt)).toEqual([1, 2]);
  });

  it('times out while its request waits in the agent for a socket: "not executed", never sent, and sent again', async () => {
    const { server, api } = await agentWithOneSocket();
    const handle = attachPolicy(api, { ...FAST, routes: { 'POST /transfers': { timeoutMs: 300 } } });
    cleanups.push(() => handle.detach());
    const attempts = attemptsOf(handle);
    const held = await holdTheSocket(api, server);
    const error = await rpcFailure(api.post('/transfers', { amount: 5 }));
    expect(error.mayHaveExecuted).toBe(false);
    expect(server.count('POST', '/transfers')).toBe(0);
    expect(attempts.filter((a) => a.method === 'POST /transfers').map((a) => a.attempt)).toEqual([1, 2]);
    await handle.detach();
    await held.ended;
  });

  it("the caller's abort while the request waits in the agent for a socket: cancelled, \"not executed\"", async () => {
    const { server, agent, api } = await agentWithOneSocket();
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    const held = await holdTheSocket(api, server);
    const controller = new AbortController();
    const call = api.post('/transfers', { amount: 5 }, { signal: controller.signal });
    await until(() => Object.values(agent.requests).some((queued) => (queued?.length ?? 0) > 0), 10_000, 'the POST to queue in the agent');
    controller.abort();
    const error = await rpcFailure(call);
    expect(error.kind).toBe('call-aborted');
    expect(error.mayHaveExecuted).toBe(false);
    expect(server.count('POST', '/transfers')).toBe(0);
    await handle.detach();
    await held.ended;
  });

  it('times out after its request was written to a connected socket: "maybe", and a keyless POST is not sent again', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('POST', '/transfers', { kind: 'stall' });
    server.script('GET', '/warm', { kind: 'answer', status: 200, body: { ok: true } });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const api = axios.create({ baseURL: server.url, httpAgent: agent });
    const handle = attachPolicy(api, { ...FAST, timeoutMs: 300 });
    cleanups.push(() => handle.detach());
    // Connected first: on a loaded machine a new connection alone can outlast the timeout.
    await api.get('/warm');
    const error = await rpcFailure(api.post('/transfers', { amount: 5 }));
    expect(error.mayHaveExecuted).toBe(true);
    expect(server.count('POST', '/transfers')).toBe(1);
  });
});

describe('the hotcold headers of each attempt, on the wire', () => {
  it('arrive once with the attempt and time left, written over a header of the same name in another case', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('GET', '/items/1', { kind: 'reset' }, { kind: 'answer', status: 200, body: { ok: 1 } });
    const api = axios.create({ baseURL: server.url, headers: { 'x-hotcold-attempt': '9' } });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    // The request's own deadline header bounds the call (request-timeout-header.test.ts); one far
    // beyond the policy's deadlineMs is written over with what is left of the policy's.
    const response = await api.get('/items/1', { headers: { 'X-HOTCOLD-TIMEOUT-MS': '2147483647' } });
    expect(response.status).toBe(200);
    // Node joins a repeated header's values with ', ': one value each means one header each.
    expect(server.seen.map((r) => r.headers['x-hotcold-attempt'])).toEqual(['1', '2']);
    for (const seen of server.seen) {
      const left = seen.headers['x-hotcold-timeout-ms'];
      expect(left).toMatch(/^\d+$/);
      expect(Number(left)).toBeGreaterThan(1);
      expect(Number(left)).toBeLessThan(2147483647);
    }
  });
});

describe('the hotcold headers of a request the agent sees', () => {
  it('go out once on every request of the attempt, redirect hops included', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('GET', '/old', { kind: 'reset' }, { kind: 'answer', status: 302, headers: { location: '/new' } });
    server.script('GET', '/new', { kind: 'answer', status: 200, body: { ok: 1 } });
    const api = axios.create({ baseURL: server.url });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    const response = await api.get('/old');
    expect(response.status).toBe(200);
    expect(server.seen.map((r) => [r.path, r.headers['x-hotcold-attempt']])).toEqual([
      ['/old', '1'],
      ['/old', '2'],
      ['/new', '2'],
    ]);
    for (const seen of server.seen) expect(seen.headers['x-hotcold-timeout-ms']).toMatch(/^\d+$/);
  });

  it('a header set to false (axios: do not send) stays unsent, and an Expect request still carries them', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    const api = axios.create({ baseURL: server.url });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    await api.get('/a', { headers: { 'X-Hotcold-Timeout-Ms': false } as unknown as Record<string, string> });
    await api.put('/b', { v: 1 }, { headers: { Expect: '100-continue' } });
    const [a, b] = server.seen;
    expect(a?.headers['x-hotcold-attempt']).toBe('1');
    expect(a?.headers['x-hotcold-timeout-ms']).toBeUndefined();
    expect(b?.headers['x-hotcold-attempt']).toBe('1');
    expect(b?.headers['x-hotcold-timeout-ms']).toMatch(/^\d+$/);
  });
});

/** A loopback server of `kind` that records the hotcold headers of what it receives and answers with `answer`. */
async function recordingServer(
  kind: 'http' | 'https',
  seen: Array<[string, string | undefined, string | undefined]>,
  answer: (res: http.ServerResponse) => void,
): Promise<string> {
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    seen.push([kind, req.headers['x-hotcold-attempt'] as string | undefined, req.headers['x-hotcold-timeout-ms'] as string | undefined]);
    answer(res);
  };
  const server = kind === 'https' ? https.createServer({ key: TEST_KEY, cert: TEST_CERT }, onRequest) : http.createServer(onRequest);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise((resolve) => server.close(resolve)));
  return `${kind}://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
}

describe('a redirect to the other protocol (follow-redirects hands the hop to the other agent)', () => {
  it.each([
    ['https.globalAgent (trusting the test certificate)', 'global'],
    ['an https agent of yours', 'own'],
  ] as const)('http → https, with %s: the https hop carries the hotcold headers too', async (_what, agentKind) => {
    const seen: Array<[string, string | undefined, string | undefined]> = [];
    const target = await recordingServer('https', seen, (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    const origin = await recordingServer('http', seen, (res) => res.writeHead(302, { location: `${target}/there` }).end());
    const own = new https.Agent({ ca: TEST_CERT, keepAlive: true });
    cleanups.push(() => own.destroy());
    const previousCa = https.globalAgent.options.ca;
    https.globalAgent.options.ca = TEST_CERT;
    cleanups.push(() => {
      https.globalAgent.options.ca = previousCa;
    });
    const api = axios.create({ baseURL: origin, httpsAgent: agentKind === 'own' ? own : undefined });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    expect((await api.get('/here')).status).toBe(200);
    expect(seen.map(([where, attempt]) => [where, attempt])).toEqual([
      ['http', '1'],
      ['https', '1'],
    ]);
    for (const [, , left] of seen) expect(left).toMatch(/^\d+$/);
  });

  it('https → http with httpAgent: false (a new agent per request, none to wrap): the http hop carries them too', async () => {
    const seen: Array<[string, string | undefined, string | undefined]> = [];
    const target = await recordingServer('http', seen, (res) => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
    const origin = await recordingServer('https', seen, (res) => res.writeHead(302, { location: `${target}/there` }).end());
    const own = new https.Agent({ ca: TEST_CERT, keepAlive: true });
    cleanups.push(() => own.destroy());
    const api = axios.create({ baseURL: origin, httpsAgent: own, httpAgent: false });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    expect((await api.get('/here')).status).toBe(200);
    expect(seen.map(([where, attempt]) => [where, attempt])).toEqual([
      ['https', '1'],
      ['http', '1'],
    ]);
  });
});
