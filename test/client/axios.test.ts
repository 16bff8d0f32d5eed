/** Your own axios instance: its interceptors run on every attempt; the client leaves its agent alone. */
import http from 'node:http';
import axios from 'axios';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createClient } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';

let server: FaultServer;
beforeAll(async () => {
  server = await startFaultServer();
});
afterAll(async () => {
  await server.close();
});

describe('axios option', () => {
  it('keeps the user interceptors working, on retries too, and does not destroy the user agent', async () => {
    const agent = new http.Agent({ keepAlive: true });
    const instance = axios.create({ httpAgent: agent });
    let seen = 0;
    instance.interceptors.request.use((config) => {
      seen++;
      config.headers.set('X-Trace', `trace-${seen}`);
      return config;
    });
    const client = createClient({ url: server.url, axios: instance, retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 2 }, methods: { read: { idempotent: true } } });
    // A live node's "maybe" answer: retried at once (a header-less 502 would probe /health first).
    server.enqueue({ mode: 'raw', status: 500, body: '{"error":"COMMIT_UNKNOWN"}', headers: { 'content-type': 'application/json' } });
    await client.call('read', {});
    expect(server.requests.map((r) => r.headers['x-trace'])).toEqual(['trace-1', 'trace-2']);
    await client.close();
    // The agent is still usable after the client closed: it belongs to the caller.
    const response = await instance.get(`${server.url}/health`);
    expect(response.status).toBe(200);
    agent.destroy();
  });
});
