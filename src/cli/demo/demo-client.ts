import { createClient } from '../../client/create-client.js';
import type { HotcoldClient } from '../../client/types.js';

/**
 * The client the demo, the e2e suite and the bench put under load: `transfer` is declared not
 * idempotent (the point of the exercise), with retries and a deadline long enough to ride
 * through a failover (waitInterval + a few checks), and a short per-attempt timeout so a call
 * stuck on a frozen node is abandoned (as an unknown outcome) and retried under its key.
 * Everything else is the library default.
 */
export function createDemoClient(url: string): HotcoldClient {
  return createClient({
    url,
    methods: {
      transfer: { idempotent: false },
      balance: { idempotent: true },
    },
    retry: { maxAttempts: 60, minDelayMs: 20, maxDelayMs: 200, jitter: 'full' },
    // Behind a balancer the breaker guards one address for both nodes: during a switchover it
    // opens on the burst of 503s. 'wait' makes calls wait for its half-open trial (within their
    // deadline) instead of failing at once with CircuitOpenException.
    breaker: { whenOpen: 'wait', resetTimeoutMs: 250 },
    // While reconnecting, probe the balancer's /health at most every 100 ms (one balancer
    // check): the probe interval is a term of the client-observed outage.
    reconnect: { minDelayMs: 25, maxDelayMs: 100, probeTimeoutMs: 500 },
    timeoutMs: 2000,
    deadlineMs: 20_000,
  });
}
