import { describe, expect, it } from 'vitest';
import { redactDeep, redactText } from '../../src/shared/redact.js';

// Server-controlled text (an error body, a JSON-RPC error's data) goes through these patterns.
// A pattern retried from every position of a long run it can partly match costs quadratic time:
// with an unbounded URL scheme, each call below took about a minute. A regex cannot be interrupted,
// so the check is on the elapsed time, with a margin of several hundred times over the linear
// cost (about 0.1 s here) so that only a complexity regression fails it, not a loaded machine.
const LINEAR_BOUND_MS = 15_000;

describe('redaction of long server-controlled text', () => {
  const long = 'a-'.repeat(100_000);

  it('redactText stays linear on a long run of scheme and name characters', { timeout: 300_000 }, () => {
    const started = performance.now();
    const out = redactText(`${long} access_token=abc https://user:pw@host/x ${long}`);
    expect(performance.now() - started).toBeLessThan(LINEAR_BOUND_MS);
    expect(out).toContain('access_token=[REDACTED]');
    expect(out).toContain('https://[REDACTED]@host/x');
    expect(out).not.toContain(':pw@');
  });

  it('redactDeep does too, inside a nested payload', { timeout: 300_000 }, () => {
    const started = performance.now();
    const out = redactDeep({ error: { data: [`${long} sig=zz ${long}`] } });
    expect(performance.now() - started).toBeLessThan(LINEAR_BOUND_MS);
    expect(JSON.stringify(out)).toContain('sig=[REDACTED]');
  });
});
