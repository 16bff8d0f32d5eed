/**
 * The transport's edges: options validation, health probes, a caller-supplied axios instance,
 * and cleanup — listeners, timers and sockets gone after close(), a process that exits by itself.
 */
import { spawn } from 'node:child_process';
import { getEventListeners } from 'node:events';
import http from 'node:http';
import { fileURLToPath } from 'node:url';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ClientClosedException, ConfigurationError, ConnectionFailureException } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import { createAxiosTransport } from '../../src/transport/index.js';
import { callOf } from './support.js';

let server: FaultServer;
beforeAll(async () => {
  server = await startFaultServer({ node: 'n1', epoch: 5 });
});
afterAll(async () => {
  await server.close();
});

describe('options', () => {
  it.each([
    [{ rpcPath: 'rpc' }, 'rpcPath'],
    [{ healthPath: '/h?x' }, 'healthPath'],
    [{ maxResponseBytes: 0 }, 'maxResponseBytes'],
    [{ maxResponseBytes: Number.NaN }, 'maxResponseBytes'],
    [{ headers: { 'Idempotency-Key': 'x' } }, 'headers.Idempotency-Key'],
    [{ headers: { 'X-Ok': 'a\r\nInjected: 1' } }, 'headers.X-Ok'],
    [{ headers: { 'bad name': 'x' } }, 'headers.bad name'],
    [{ headers: { Authorization: 'Bearer abcd' }, auth: { bearer: 'efgh' } }, 'headers.Authorization'],
    [{ auth: { username: '', password: 'x' } }, 'auth.username'],
    [{ auth: { username: 'a', password: 3 } }, 'auth.password'],
    [{ auth: { bearer: '' } }, 'auth.bearer'],
    [{ axios: {} }, 'axios'],
    [{ keepAlive: 'yes' }, 'keepAlive'],
    [{ retries: 3 }, 'retries'],
  ])('%j → ConfigurationError naming %s', (options, field) => {
    expect(() => createAxiosTransport(options as never)).toThrow(ConfigurationError);
    try {
      createAxiosTransport(options as never);
    } catch (error) {
      expect((error as ConfigurationError).field).toBe(field);
    }
  });

  it('rejects a bad base URL or idempotency key per call, naming it', async () => {
    const transport = createAxiosTransport();
    await expect(transport.send(callOf(server, { baseUrl: 'ftp://x' }))).rejects.toMatchObject({ field: 'baseUrl' });
    await expect(transport.send(callOf(server, { idempotencyKey: 'a\nb' }))).rejects.toMatchObject({
      field: 'idempotencyKey',
    });
    await expect(transport.send(callOf(server, { idempotencyKey: 'k'.repeat(201) }))).rejects.toBeInstanceOf(
      ConfigurationError,
    );
    await transport.close();
  });

  it('unserializable params: nothing sent', async () => {
    const transport = createAxiosTransport();
    const before = server.requests.length;
    await expect(transport.send(callOf(server, { params: { n: 1n } }))).rejects.toMatchObject({
      kind: 'protocol',
      mayHaveExecuted: false,
    });
    expect(server.requests.length).toBe(before);
    await transport.close();
  });

  it('custom paths and headers are used', async () => {
    const custom = await startFaultServer({ rpcPath: '/api/rpc', healthPath: '/api/health' });
    const transport = createAxiosTransport({ rpcPath: '/api/rpc', healthPath: '/api/health', headers: { 'X-Tenant': 't1' } });
    const response = await transport.send(callOf(custom, { baseUrl: `${custom.url}/` }));
    expect(response.status).toBe(200);
    expect(custom.requests[0]?.headers['x-tenant']).toBe('t1');
    expect((await transport.health(custom.url, { timeoutMs: 1000 })).ok).toBe(true);
    await transport.close();
    await custom.close();
  });
});

describe('health', () => {
  it('reports active, standby and unreachable', async () => {
    const transport = createAxiosTransport();
    expect(await transport.health(server.url, { timeoutMs: 1000 })).toEqual({
      ok: true,
      status: 200,
      body: { status: 'active', node: 'n1', epoch: 5 },
      node: 'n1',
      epoch: 5,
      dedup: false,
    });
    server.setHealth('standby');
    try {
      const standby = await transport.health(server.url, { timeoutMs: 1000 });
      expect(standby).toMatchObject({ ok: false, status: 503, body: { status: 'standby' } });
    } finally {
      server.setHealth('active');
    }
    const dead = await startFaultServer();
    await dead.refuse();
    await expect(transport.health(dead.url, { timeoutMs: 1000 })).rejects.toBeInstanceOf(ConnectionFailureException);
    await dead.close();
    const controller = new AbortController();
    controller.abort();
    await expect(transport.health(server.url, { timeoutMs: 1000, signal: controller.signal })).rejects.toMatchObject({
      kind: 'call-aborted',
    });
    await transport.close();
  });
});

describe('a caller-supplied axios instance', () => {
  it('keeps its interceptors working, and close() leaves its agent alone', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const instance = axios.create({ httpAgent: agent, timeout: 1 });
    let responses = 0;
    instance.interceptors.request.use((config) => {
      config.headers.set('X-Intercepted', 'yes');
      return config;
    });
    instance.interceptors.response.use((response) => {
      responses++;
      return response;
    });
    const transport = createAxiosTransport({ axios: instance });
    expect(transport.axios).toBe(instance);
    // The instance's 1 ms socket timeout does not apply: the transport bounds the attempt itself.
    server.enqueue({ mode: 'ok', delayMs: 50 });
    const response = await transport.send(callOf(server));
    expect(response.status).toBe(200);
    expect(server.requests.at(-1)?.headers['x-intercepted']).toBe('yes');
    expect(responses).toBe(1);
    await transport.close();
    // Their agent still works after our close().
    const direct = await instance.post(server.rpcUrl, { jsonrpc: '2.0', id: 1, method: 'x' }, { timeout: 0 });
    expect(direct.status).toBe(200);
    agent.destroy();
  });
});

describe('cleanup', () => {
  it('removes its abort listener and timer after each call', async () => {
    const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const baseline = timers();
    const transport = createAxiosTransport();
    try {
      const controller = new AbortController();
      for (let i = 0; i < 3; i++) await transport.send(callOf(server, { signal: controller.signal }));
      server.enqueue('garbage', 'reset-after-request');
      await expect(transport.send(callOf(server, { signal: controller.signal }))).rejects.toBeDefined();
      await expect(transport.send(callOf(server, { signal: controller.signal }))).rejects.toBeDefined();
      expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0);
      expect(timers()).toBeLessThanOrEqual(baseline);
    } finally {
      await transport.close();
    }
  });

  it('close() rejects calls in flight and later calls, and frees its sockets', async () => {
    const transport = createAxiosTransport();
    await transport.send(callOf(server));
    server.enqueue('stall');
    const pending = transport.send(callOf(server, { timeoutMs: 10_000 }));
    await server.nextRequest();
    await transport.close();
    await expect(pending).rejects.toMatchObject({ kind: 'client-closed', mayHaveExecuted: true });
    await expect(transport.send(callOf(server))).rejects.toBeInstanceOf(ClientClosedException);
    for (let i = 0; i < 100 && server.openConnections > 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(server.openConnections).toBe(0);
  });

  it('a process that used a transport and a fault server exits by itself after close()', async () => {
    const script = fileURLToPath(new URL('./fixtures/exit-after-close.ts', import.meta.url));
    const cwd = fileURLToPath(new URL('../..', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', script], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const code = await new Promise<number | null>((resolve) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        resolve(null);
      }, 20_000);
      child.once('exit', (c) => {
        clearTimeout(timer);
        resolve(c);
      });
    });
    expect(output).toContain('calls done');
    expect(code).toBe(0);
  });
});
