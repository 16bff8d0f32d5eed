/**
 * The headers hotcold sets on every call (DESIGN §1: `Idempotency-Key`, `X-Hotcold-Attempt`,
 * `X-Hotcold-Timeout-Ms`) cannot be configured as a client's or a transport's fixed `headers`:
 * `createClient({ headers: { 'X-Hotcold-Timeout-Ms': '999999' } })` was accepted and the value
 * dropped without a word (the first two were already refused by the transport; the deadline
 * header was not). A fixed deadline header is either ignored or, where it wins, tells a node the
 * caller waits 999 999 ms when it waits a few: the node starts calls nobody waits for any more.
 * Now each is refused at construction, in any case, with a ConfigurationError naming
 * `headers.<name>`; the header on the wire is the call's own (what is left of its deadline).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CLIENT_SET_HEADERS, ConfigurationError, createAxiosTransport, createClient } from 'hotcold';

const RESERVED = ['X-Hotcold-Timeout-Ms', 'x-hotcold-timeout-ms', 'X-HOTCOLD-TIMEOUT-MS', 'Idempotency-Key', 'idempotency-key', 'X-Hotcold-Attempt', 'x-hotcold-attempt'];

function refusal(make: () => unknown): ConfigurationError | undefined {
  try {
    make();
  } catch (error) {
    if (error instanceof ConfigurationError) return error;
    throw error;
  }
  return undefined;
}

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
});

describe('headers hotcold sets per call', () => {
  it('CLIENT_SET_HEADERS lists them, lower-case', () => {
    expect([...CLIENT_SET_HEADERS].sort()).toEqual(['idempotency-key', 'x-hotcold-attempt', 'x-hotcold-timeout-ms']);
  });

  it.each(RESERVED)('createClient refuses headers.%s at construction', (name) => {
    const error = refusal(() => createClient({ url: 'http://127.0.0.1:1', headers: { 'X-Tenant': 't1', [name]: '999999' } }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.field).toBe(`headers.${name}`);
    // The value is never echoed (a header may be a secret).
    expect(error?.message).not.toContain('999999');
  });

  it.each(RESERVED)("the JSON-RPC transport's headers option refuses headers.%s", (name) => {
    const error = refusal(() => createAxiosTransport({ headers: { [name]: '999999' } }));
    expect(error).toBeInstanceOf(ConfigurationError);
    expect(error?.field).toBe(`headers.${name}`);
  });

  it("other headers are sent as configured, and X-Hotcold-Timeout-Ms is the call's deadline left", async () => {
    const seen: http.IncomingHttpHeaders[] = [];
    const server = http.createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (chunk: string) => (body += chunk));
      req.on('end', () => {
        seen.push(req.headers);
        const { id } = JSON.parse(body) as { id: number };
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ jsonrpc: '2.0', id, result: 'ok' }));
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => server.close(resolve)));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const client = createClient({ url, deadlineMs: 3000, retry: { maxAttempts: 1 }, headers: { 'X-Tenant': 't1' } });
    cleanups.push(() => client.close());
    expect(await client.call('echo', {})).toBe('ok');
    expect(seen).toHaveLength(1);
    expect(seen[0]?.['x-tenant']).toBe('t1');
    const left = Number(seen[0]?.['x-hotcold-timeout-ms']);
    expect(Number.isInteger(left)).toBe(true);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(3000);
  });
});
