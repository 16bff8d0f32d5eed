/**
 * The REST adapter (`hotcold/axios`, `attachPolicy`) behind the shipped examples/nginx/nginx.conf,
 * run by real nginx in front of two fake nodes: node-a the standby (its own `503 NOT_ACTIVE`),
 * node-b the hot node. One caller, one POST at a time.
 *
 * nginx has no health checks: what keeps the standby out of its rotation is a `GET` that the
 * standby refuses (`proxy_next_upstream http_503` marks it failed; a POST's 503 never does). With
 * `healthPath` set, as docs/rest.md ("Behind nginx") says, the policy's probe after a standby's
 * NOT_ACTIVE is that GET. Without it (the default, `healthPath: false`) nothing marks the standby
 * and under `random` each attempt is a coin flip: a call fails `RetriesExhausted`, every attempt
 * the standby's "not executed", with probability about 2^-maxAttempts while the hot node serves
 * (6, 9 and 5 of 60 calls with 3 attempts in three runs; this file keeps the default 8).
 */
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, isRPCException, type AttachedPolicy } from 'hotcold/axios';
import { findNginx, startNginx, type RunningNginx } from '../../src/cli/demo/nginx.js';
import { startFakeNode, type FakeNode } from '../support/fake-node.js';
import { balancerBinaryAvailable } from './failover-suite.js';

const available = balancerBinaryAvailable('nginx', findNginx());
const CALLS = 60;

describe.runIf(available)('REST (attachPolicy with healthPath) behind the shipped nginx.conf, standby offered', () => {
  let running: { lb: RunningNginx; a: FakeNode; b: FakeNode; handle: AttachedPolicy } | undefined;
  afterEach(async () => {
    await running?.handle.detach();
    await running?.lb.stop();
    await running?.a.close();
    await running?.b.close();
    running = undefined;
  });

  /** `CALLS` keyed POSTs one after another; the failures, as kind and attempts. */
  async function loneCaller(): Promise<{ failures: string[]; hot: number }> {
    const a = await startFakeNode('node-a', 'standby');
    const b = await startFakeNode('node-b', 'active');
    const lb = await startNginx({ backends: [{ port: a.port }, { port: b.port }] });
    const api = axios.create({ baseURL: lb.url });
    const handle = attachPolicy(api, { healthPath: '/health', retry: { minDelayMs: 1, maxDelayMs: 5 }, reconnect: { minDelayMs: 5, maxDelayMs: 20 } });
    running = { lb, a, b, handle };
    const failures: string[] = [];
    for (let i = 0; i < CALLS; i++) {
      await api.post('/transfers', { i }, { headers: { 'idempotency-key': `rest-lone-${i}` } }).catch((error: unknown) => {
        failures.push(isRPCException(error) ? `${error.kind} after ${error.attempts}: ${error.message}` : String(error));
      });
    }
    return { failures, hot: b.calls };
  }

  it('one caller at a time: every call reaches the hot node, the standby kept out by the probes', async () => {
    const { failures, hot } = await loneCaller();
    expect(failures).toEqual([]);
    expect(hot).toBe(CALLS);
  }, 60_000);
});
