/**
 * Requests that axios's http adapter sends through an agent other than the one the attempt
 * wrapped: the evidence sees no request, yet one went out. "No request seen" must then not be
 * read as "not written": the server below received the whole request and only then reset the
 * connection, so the call may have run ("maybe"), and a keyless POST must not be sent again.
 * Real loopback servers: an https origin (self-signed test certificate) and an http proxy that
 * tunnels CONNECT to it, as axios does for an https target behind a proxy.
 */
import https from 'node:https';
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { TEST_CERT } from './tls-fixture.js';
import { cleanupsAfterEach, FAST, rpcFailure } from './evidence-kit.js';
import { connectProxy, readThenReset, type Seen } from './proxy-kit.js';


const cleanups = cleanupsAfterEach();

/** An attached instance whose https origin (reads each request, then resets) is reached through a CONNECT proxy. */
async function behindProxy(maxRedirects: number | undefined): Promise<{ seen: Seen[]; proxy: Awaited<ReturnType<typeof connectProxy>>; api: ReturnType<typeof axios.create> }> {
  const seen: Seen[] = [];
  const origin = await readThenReset('https', seen, cleanups);
  const proxy = await connectProxy(cleanups);
  const agent = new https.Agent({ ca: TEST_CERT });
  cleanups.push(() => agent.destroy());
  const api = axios.create({
    baseURL: `https://127.0.0.1:${origin}`,
    httpsAgent: agent,
    proxy: { protocol: 'http', host: '127.0.0.1', port: proxy.port },
    ...(maxRedirects === undefined ? {} : { maxRedirects }),
  });
  const handle = attachPolicy(api, FAST);
  cleanups.push(() => handle.detach());
  return { seen, proxy, api };
}

describe('an https target behind a proxy (axios tunnels it through its own CONNECT agent)', () => {
  it.each([
    ['following redirects', undefined],
    ['maxRedirects: 0', 0],
  ] as const)('%s: the request reached the server, which reset after reading it: "maybe", a keyless POST is not sent again', async (_what, maxRedirects) => {
    const { seen, proxy, api } = await behindProxy(maxRedirects);
    const error = await rpcFailure(api.post('/transfers', { amount: 5 }));
    expect(proxy.tunnels()).toBeGreaterThanOrEqual(1);
    expect(seen.map((s) => s.path)).toEqual(['/transfers']);
    expect(error.mayHaveExecuted).toBe(true);
  });

  it('the request carries the hotcold headers', async () => {
    const { seen, api } = await behindProxy(undefined);
    await rpcFailure(api.get('/items/1'));
    expect(seen.length).toBeGreaterThanOrEqual(1);
    expect(seen[0]?.attempt).toBe('1');
    expect(seen[0]?.left).toMatch(/^\d+$/);
  });
});

describe('allowAbsoluteUrls: false (axios puts an absolute url under baseURL)', () => {
  it('an https:// url under an http baseURL goes out over http: reset after reading it is "maybe", not sent again', async () => {
    const seen: Seen[] = [];
    const port = await readThenReset('http', seen, cleanups);
    const api = axios.create({ baseURL: `http://127.0.0.1:${port}`, allowAbsoluteUrls: false, maxRedirects: 0 });
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    const error = await rpcFailure(api.post('https://ledger.example/transfers', { amount: 5 }));
    expect(seen.length).toBe(1);
    expect(error.mayHaveExecuted).toBe(true);
  });
});
