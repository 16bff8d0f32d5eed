/**
 * Millisecond inputs of any size: a deadline, backoff or Retry-After beyond Node's timer ceiling
 * (2^31−1 ms) must wait, never fire at once with a TimeoutOverflowWarning.
 */
import { describe, expect, it } from 'vitest';
import { type HotcoldClient, type ClientOptions } from 'hotcold';
import { delay, faultServerSuite } from './helpers.js';

const suite = faultServerSuite({ reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 500 } });
const client = (options: Partial<ClientOptions> = {}): HotcoldClient => suite.client(options);

function overflowWarnings(): { list: string[]; stop(): void } {
  const list: string[] = [];
  const onWarning = (w: Error): void => {
    if (w.name === 'TimeoutOverflowWarning') list.push(w.message);
  };
  process.on('warning', onWarning);
  return { list, stop: () => process.off('warning', onWarning) };
}

describe('millisecond inputs beyond the timer ceiling', () => {
  it('a 3e9 ms deadline behind a node NOT_ACTIVE keeps the call waiting (no early DeadlineExceeded)', async () => {
    const warnings = overflowWarnings();
    try {
      const c = client({ deadlineMs: 3e9 });
      await suite.server.setMode('not-active');
      let settled: unknown = 'pending';
      const call = c.call('ping', {}, { deadlineMs: 3e9 }).then(
        (v) => (settled = v),
        (e: unknown) => (settled = e),
      );
      // The old code failed the call with DeadlineExceeded within ~60 ms; give it ten times that.
      await delay(600);
      expect(settled).toBe('pending');
      await suite.server.setMode('ok');
      await call;
      expect(settled).not.toBeInstanceOf(Error);
      expect(warnings.list).toEqual([]);
    } finally {
      warnings.stop();
    }
  });

  it('a huge backoff or Retry-After waits instead of retrying at once', async () => {
    const warnings = overflowWarnings();
    try {
      const c = client({
        deadlineMs: 2_000_000_000,
        retry: { maxAttempts: 3, minDelayMs: 3e9, maxDelayMs: 4e9, jitter: 'none' },
        methods: { ping: { idempotent: true } },
      });
      suite.server.enqueue('502');
      const controller = new AbortController();
      const call = c.call('ping', {}, { signal: controller.signal }).catch((e: unknown) => e);
      await delay(400);
      expect(suite.server.requests).toHaveLength(1);
      controller.abort();
      await call;
      expect(warnings.list).toEqual([]);
    } finally {
      warnings.stop();
    }
  });
});
