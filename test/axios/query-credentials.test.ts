/**
 * A credential in the query string of an axios `baseURL` (`?sig=`, `?access_token=`, `?key=`)
 * never reaches an event, a log record, an error or telemetry: a backend is labelled by its URL
 * without userinfo, query or fragment, and credential patterns catch prefixed names
 * (`access_token=`, `X-Amz-Signature=`). Real axios against a closed loopback port.
 */
import axios from 'axios';
import { afterEach, describe, expect, it } from 'vitest';
import { attachPolicy, type AttachedPolicy } from 'hotcold/axios';
import { redactText } from '../../src/shared/redact.js';
import { everythingRecorded, installTelemetry, type Telemetry } from '../observability/support.js';
import { closedPort } from './helpers.js';

let telemetry: Telemetry | undefined;
let attached: AttachedPolicy | undefined;

afterEach(async () => {
  await attached?.detach();
  attached = undefined;
  await telemetry?.uninstall();
  telemetry = undefined;
});

describe('credentials in a baseURL query', () => {
  it('reach no event, log record, error or telemetry', async () => {
    telemetry = installTelemetry({ globalMeter: true });
    const port = await closedPort();
    const records: string[] = [];
    const write = (obj: object, msg?: string): void => void records.push(`${msg ?? ''} ${JSON.stringify(obj)}`);
    const logger = { debug: write, info: write, warn: write, error: write };
    const api = axios.create({ baseURL: `http://u:pw-secret-1@127.0.0.1:${port}/api?sig=sig-secret-2&access_token=at-secret-3&key=key-secret-4#frag-secret-5` });
    attached = attachPolicy(api, { logger, healthPath: '/health', deadlineMs: 2000, retry: { maxAttempts: 3, minDelayMs: 1, maxDelayMs: 5 } });
    const events: unknown[] = [];
    attached.policy.events$.subscribe((event) => events.push(event));
    const error: unknown = await api.post('/x', { a: 1 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(Error);
    await attached.detach();
    const seen = [
      ...records,
      JSON.stringify(events),
      String(error),
      JSON.stringify(error),
      everythingRecorded(await telemetry.collect(), telemetry.spans()),
    ].join('\n');
    expect(events.some((e) => (e as { backend?: unknown }).backend === `http://127.0.0.1:${port}/api`)).toBe(true);
    for (const secret of ['pw-secret-1', 'sig-secret-2', 'at-secret-3', 'key-secret-4', 'frag-secret-5']) expect(seen).not.toContain(secret);
  });

  it('patterns catch prefixed credential names in any text', () => {
    const text = 'GET /a?access_token=AAA1&X-Amz-Signature=BBB2&client_secret=CCC3 x-api-key: DDD4 refresh-token=EEE5 sig=FFF6';
    const out = redactText(text);
    for (const secret of ['AAA1', 'BBB2', 'CCC3', 'DDD4', 'EEE5', 'FFF6']) expect(out).not.toContain(secret);
    // Prose stays readable: a fencing token is a number after a space, a design is not a signature.
    expect(redactText('lease held with token 42; design=flat')).toBe('lease held with token 42; design=flat');
  });
});
