/**
 * A standby's `503 {"error":"NOT_ACTIVE"}` is "not executed" whatever `responseEncoding` the
 * instance asks axios to decode text with: under `'base64'`, `'hex'` or `'utf16le'` the body read
 * as a string was no JSON, the answer counted as "maybe", and a keyless POST that certainly did
 * not run failed instead of being sent again. Real loopback server.
 */
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy } from 'hotcold/axios';
import { NODE, startScriptedServer } from './helpers.js';
import { cleanupsAfterEach, FAST } from './evidence-kit.js';

const cleanups = cleanupsAfterEach();

describe("a node's NOT_ACTIVE under the instance's responseEncoding", () => {
  for (const responseEncoding of ['base64', 'hex', 'utf16le', 'latin1'] as const) {
    it(`${responseEncoding}: a keyless POST is sent again and answered`, async () => {
      const server = await startScriptedServer();
      cleanups.push(() => server.close());
      server.script('POST', '/transfers', { kind: 'answer', status: 503, headers: { ...NODE, 'retry-after': '0' }, body: { error: 'NOT_ACTIVE' } }, { kind: 'answer', status: 201, body: { ok: 1 } });
      const api = axios.create({ baseURL: server.url, responseEncoding });
      const attached = attachPolicy(api, { ...FAST });
      cleanups.push(() => attached.detach());
      const response = await api.post('/transfers', { amount: 1 });
      expect(response.status).toBe(201);
      expect(server.count('POST', '/transfers')).toBe(2);
    });
  }
});
