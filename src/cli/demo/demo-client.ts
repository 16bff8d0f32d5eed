import { createClient } from '../../client/create-client.js';
import type { HotcoldClient } from '../../client/types.js';

/**
 * The client the demo, the e2e suite and the bench put under load: `transfer` is declared not
 * idempotent (the point of the exercise), with retries and a deadline long enough to ride
 * through a failover (waitInterval + a few checks), and a short per-attempt timeout so a call
 * stuck on a frozen node is abandoned (as an unknown outcome) and retried under its key.
 */
export function createDemoClient(url: string): HotcoldClient {
  return createClient({
    url,
    methods: {
      transfer: { idempotent: false },
      balance: { idempotent: true },
    },
    retry: { maxAttempts: 60, minDelayMs: 20, maxDelayMs: 200, jitter: 'full' },
    timeoutMs: 2000,
    deadlineMs: 20_000,
  });
}
