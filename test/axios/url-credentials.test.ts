/**
 * A protocol-relative URL (`//user:pw@host/path`, an absolute URL to axios) names its operation
 * by its path, as a URL with a scheme does: its userinfo never reaches an operation name, and so
 * no error, event or log record. Real axios against a loopback server.
 */
import axios from 'axios';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { redactText } from '../../src/shared/redact.js';
import { startScriptedServer } from './helpers.js';
import { cleanupsAfterEach, FAST } from './evidence-kit.js';

const cleanups = cleanupsAfterEach();

describe('a protocol-relative URL with userinfo', () => {
  it('names the operation by its path: the credential reaches no error, event or log record', async () => {
    const server = await startScriptedServer();
    cleanups.push(() => server.close());
    const records: string[] = [];
    const write = (obj: object, msg?: string): void => void records.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
    const api = axios.create({ baseURL: server.url });
    const attached = attachPolicy(api, { ...FAST, logger: { debug: write, info: write, warn: write, error: write } });
    cleanups.push(() => attached.detach());
    const events: unknown[] = [];
    attached.policy.events$.subscribe((event) => events.push(event));
    const host = server.url.slice('http://'.length);
    const error = await api.get(`//alice:pw-secret-9@${host}/accounts/7?x=1`).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    expect((error as { method?: unknown }).method).toBe('GET /accounts/7');
    const seen = [String(error), JSON.stringify(error), inspect(error, { depth: 8 }), JSON.stringify(events), ...records].join('\n');
    expect(seen).not.toContain('pw-secret-9');
    expect(seen).not.toContain('alice');
  });

  it('in any text (a message quoting it) is redacted like one with a scheme', () => {
    expect(redactText('GET //alice:pw-secret-9@h:1/a failed')).toBe('GET //[REDACTED]@h:1/a failed');
    expect(redactText('see https://alice:pw@h/a')).toBe('see https://[REDACTED]@h/a');
  });
});
