/**
 * Probes of the per-attempt evidence against real loopback servers: an agent shared by an
 * attached and a plain axios instance (maxSockets: 1), and a TLS server that accepts TCP but
 * never completes the handshake.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException } from 'hotcold/axios';
import { startScriptedServer, until } from './helpers.js';
import { TEST_CERT } from './tls-fixture.js';
import { cleanupsAfterEach, FAST } from './evidence-kit.js';


const cleanups = cleanupsAfterEach();

async function failure(promise: Promise<unknown>): Promise<{ mayHaveExecuted: boolean }> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isRPCException(error), String(error)).toBe(true);
  return error as { mayHaveExecuted: boolean };
}

describe('an agent shared with a plain instance', () => {
  it("the plain instance's request holds the one socket: the attached POST queued behind it times out \"not executed\"; the plain request's socket is not the attached one's evidence", async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    server.script('POST', '/hold', { kind: 'stall' });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    cleanups.push(() => agent.destroy());
    const plain = axios.create({ baseURL: server.url, httpAgent: agent });
    const attached = axios.create({ baseURL: server.url, httpAgent: agent });
    const handle = attachPolicy(attached, { ...FAST, retry: { maxAttempts: 1 } });
    cleanups.push(() => handle.detach());
    const controller = new AbortController();
    const held = plain.post('/hold', { x: 1 }, { signal: controller.signal }).catch(() => undefined);
    cleanups.push(() => controller.abort());
    await until(() => server.count('POST', '/hold') === 1, 10_000, 'the plain request on the one socket');
    const error = await failure(attached.post('/transfers', { amount: 5 }));
    expect(server.count('POST', '/transfers')).toBe(0);
    expect(error.mayHaveExecuted).toBe(false);
    controller.abort();
    await held;
  });
});

describe('a TLS server that accepts TCP and never answers the handshake', () => {
  it('times out in the handshake: "not executed", and sent again', async () => {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => undefined);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      return new Promise((resolve) => server.close(resolve));
    });
    const agent = new https.Agent({ ca: TEST_CERT });
    cleanups.push(() => agent.destroy());
    const api = axios.create({ baseURL: `https://127.0.0.1:${(server.address() as net.AddressInfo).port}`, httpsAgent: agent });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    const error = await failure(api.post('/transfers', { amount: 5 }));
    expect(error.mayHaveExecuted).toBe(false);
    expect(sockets.size).toBe(2);
  });
});
