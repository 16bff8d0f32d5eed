/**
 * The REST adapter (`hotcold/axios`, `attachPolicy`) behind the shipped examples/nginx/nginx.conf,
 * run by real nginx in front of two fake nodes: node-a the standby (its own `503 NOT_ACTIVE`),
 * node-b the hot node. One caller, one POST at a time.
 *
 * `attachPolicy` probes nothing by default (`healthPath: false`): after the standby's NOT_ACTIVE
 * the call itself is the trial, sent again through nginx. Nothing marks the standby failed (a
 * POST's 503 never does, and no GET probe is sent), so under `random` each attempt is a coin
 * flip whatever came before: a call fails `RetriesExhausted` ("gave up after N attempts", every
 * attempt the standby's "not executed") with probability about 2^-maxAttempts while the hot node
 * serves — 1 call in 256 with the default 8 attempts. Under round robin (the config before
 * 17ee508) a lone caller's next attempt went to the other node: its second attempt always
 * reached the hot node. Three attempts here make the rate 1 in 8, so that 60 calls show it.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException, type AttachedPolicy } from 'hotcold/axios';
import { findNginx, nginxExampleConfigPath, startNginx, type RunningNginx } from '../../src/cli/demo/nginx.js';
import { startFakeNode, type FakeNode } from '../support/fake-node.js';
import { balancerBinaryAvailable } from './failover-suite.js';

const available = balancerBinaryAvailable('nginx', findNginx());
const CALLS = 60;

describe.runIf(available)('REST (attachPolicy defaults) behind the shipped nginx.conf, standby offered', () => {
  let running: { lb: RunningNginx; a: FakeNode; b: FakeNode; handle: AttachedPolicy } | undefined;
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    await running?.handle.detach();
    await running?.lb.stop();
    await running?.a.close();
    await running?.b.close();
    running = undefined;
    for (const cleanup of cleanups.splice(0)) await cleanup();
  });

  /** `CALLS` keyed POSTs one after another; the failures, as kind and attempts. */
  async function loneCaller(template?: string): Promise<{ failures: string[]; hot: number }> {
    const a = await startFakeNode('node-a', 'standby');
    const b = await startFakeNode('node-b', 'active');
    const lb = await startNginx({ backends: [{ port: a.port }, { port: b.port }], ...(template !== undefined ? { template } : {}) });
    const api = axios.create({ baseURL: lb.url });
    const handle = attachPolicy(api, { retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 } });
    running = { lb, a, b, handle };
    const failures: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      await api.post('/transfers', { i }, { headers: { 'idempotency-key': `rest-lone-${i}` } }).catch((error: unknown) => {
        failures.push(isRPCException(error) ? `${error.kind} after ${error.attempts}: ${error.message}` : String(error));
      });
    }
    return { failures, hot: b.calls };
  }

  it('one caller at a time: every call reaches the hot node', async () => {
    const { failures, hot } = await loneCaller();
    expect(failures).toEqual([]);
    expect(hot).toBe(CALLS);
  }, 60_000);

  it('control: the same with round robin (the shipped config without `random`) reaches the hot node every time', async () => {
    const shipped = await readFile(nginxExampleConfigPath(), 'utf8');
    const roundRobin = shipped.replace(/\n\s*random;/, '');
    expect(roundRobin).not.toBe(shipped);
    const dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-nginx-rr-'));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const template = path.join(dir, 'nginx.conf');
    await writeFile(template, roundRobin);
    const { failures, hot } = await loneCaller(template);
    expect(failures).toEqual([]);
    expect(hot).toBe(CALLS);
  }, 60_000);
});
