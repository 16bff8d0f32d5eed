/**
 * A proxy named in the environment (HTTPS_PROXY, as proxy-from-env reads it for axios): axios
 * tunnels an https request through a CONNECT agent of its own, which the attempt cannot wrap, so
 * the hotcold headers must go through axios's headers. The variables are read at most once per
 * PROXY_ENV_TTL_MS (a read of process.env is costly on the success path): one set while the
 * process runs is seen once that time has passed. Real loopback parts: an https origin that reads
 * each request and then resets, and an http proxy that tunnels CONNECT to it. This file runs in
 * its own process (vitest's forks pool), so the variables it sets touch no other suite.
 */
import https from 'node:https';
import { setTimeout as sleep } from 'node:timers/promises';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { PROXY_ENV_TTL_MS } from '../../src/axios/proxy-env.js';
import { TEST_CERT } from './tls-fixture.js';
import { cleanupsAfterEach, FAST, rpcFailure } from './evidence-kit.js';
import { connectProxy, readThenReset, type Seen } from './proxy-kit.js';

const cleanups = cleanupsAfterEach();
const NAMES = ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY', 'no_proxy', 'NO_PROXY', 'npm_config_https_proxy', 'npm_config_proxy', 'npm_config_no_proxy'];
const saved = Object.fromEntries(NAMES.map((name) => [name, process.env[name]]));
for (const name of NAMES) delete process.env[name];

afterEach(() => {
  for (const name of NAMES) {
    if (saved[name] === undefined) delete process.env[name];
    else process.env[name] = saved[name];
  }
});

async function origin(): Promise<{ seen: Seen[]; api: ReturnType<typeof axios.create> }> {
  const seen: Seen[] = [];
  const port = await readThenReset('https', seen, cleanups);
  const agent = new https.Agent({ ca: TEST_CERT });
  cleanups.push(() => agent.destroy());
  return { seen, api: axios.create({ baseURL: `https://127.0.0.1:${port}`, httpsAgent: agent }) };
}

describe('a proxy in the environment', () => {
  it.each(['HTTPS_PROXY', 'https_proxy', 'ALL_PROXY', 'all_proxy'])(
    '%s set before attaching: the tunneled request carries the hotcold headers, and a reset after reading it is "maybe"',
    async (name) => {
      const proxy = await connectProxy(cleanups);
      process.env[name] = `http://127.0.0.1:${proxy.port}`;
      const { seen, api } = await origin();
      const handle = attachPolicy(api, FAST);
      cleanups.push(() => handle.detach());
      const error = await rpcFailure(api.post('/transfers', { amount: 5 }));
      expect(proxy.tunnels()).toBeGreaterThanOrEqual(1);
      expect(seen.map((s) => s.path)).toEqual(['/transfers']);
      expect(seen[0]?.attempt).toBe('1');
      expect(seen[0]?.left).toMatch(/^\d+$/);
      expect(error.mayHaveExecuted).toBe(true);
    },
  );

  it('set while the process runs: seen once PROXY_ENV_TTL_MS has passed', async () => {
    const proxy = await connectProxy(cleanups);
    const { seen, api } = await origin();
    const handle = attachPolicy(api, FAST);
    cleanups.push(() => handle.detach());
    // Direct, no proxy yet: the headers go onto the request itself.
    await rpcFailure(api.get('/direct'));
    expect(proxy.tunnels()).toBe(0);
    expect(seen[0]?.attempt).toBe('1');
    process.env.HTTPS_PROXY = `http://127.0.0.1:${proxy.port}`;
    await sleep(PROXY_ENV_TTL_MS + 50);
    seen.length = 0;
    await rpcFailure(api.get('/tunneled'));
    expect(proxy.tunnels()).toBeGreaterThanOrEqual(1);
    expect(seen[0]?.path).toBe('/tunneled');
    expect(seen[0]?.attempt).toBe('1');
  });
});
