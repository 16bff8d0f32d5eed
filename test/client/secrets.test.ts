/**
 * Secrets a server echoes back (a JSON-RPC error whose `data` or message quotes the credential)
 * never leave through toJSON(), util.inspect or events; the raw `data` stays readable. Secrets are
 * scoped to the client that was given them and released by its close().
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createClient, RemoteCallException, type ClientEvent, type HotcoldClient } from 'hotcold';

const TOKEN = 'tok-echoed-5150-abcdef';
const PASSWORD = 'plain-pass-8086';

let server: http.Server;
let url: string;
const clients: HotcoldClient[] = [];

/** Answers every call with a JSON-RPC error quoting the request's Authorization header and a password. */
function echoServer(): Promise<http.Server> {
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const id = (JSON.parse(body) as { id: number }).id;
      const auth = req.headers.authorization ?? '';
      const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString() : '';
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          jsonrpc: '2.0',
          id,
          error: {
            code: -32001,
            message: `denied for ${auth} (${decoded.split(':')[1] ?? ''}), you sent ${decoded.split(':')[1] ?? TOKEN}`,
            data: { seen: auth, nested: [{ credentials: decoded, note: `you sent ${decoded.split(':')[1] ?? TOKEN}` }] },
          },
        }),
      );
    });
  });
  return new Promise((resolve) => s.listen(0, '127.0.0.1', () => resolve(s)));
}

beforeEach(async () => {
  server = await echoServer();
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await new Promise((r) => server.close(r));
});

function client(options: Parameters<typeof createClient>[0]): HotcoldClient {
  const c = createClient(options);
  clients.push(c);
  return c;
}

function printed(error: unknown): string {
  return [JSON.stringify(error), inspect(error, { depth: 12 }), String(error), (error as Error).stack ?? ''].join('\n');
}

describe('secrets echoed by the server', () => {
  it('a bearer token in an error payload is scrubbed from toJSON, inspect and events; raw data keeps it', async () => {
    const c = client({ url, auth: { bearer: TOKEN }, breaker: false });
    const events: ClientEvent[] = [];
    c.events$.subscribe((e) => events.push(e));
    const error = await c.call('x', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteCallException);
    expect(printed(error)).not.toContain(TOKEN);
    expect(JSON.stringify(events)).not.toContain(TOKEN);
    // Code that reads the property gets the server's payload as sent.
    expect(JSON.stringify((error as RemoteCallException).data)).toContain(TOKEN);
  });

  it('a Basic password that matches no pattern is scrubbed too (literal secret of this client)', async () => {
    const c = client({ url, auth: { username: 'alice', password: PASSWORD }, breaker: false });
    const error = await c.call('x', {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RemoteCallException);
    const text = printed(error);
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(Buffer.from(`alice:${PASSWORD}`).toString('base64'));
  });

  it('an error keeps scrubbing after its client closed', async () => {
    const c = client({ url, auth: { username: 'alice', password: PASSWORD }, breaker: false });
    const error = await c.call('x', {}).catch((e: unknown) => e);
    await c.close();
    expect(printed(error)).not.toContain(PASSWORD);
  });

  it('secrets are scoped: one client\'s password is not consulted for another client\'s errors', async () => {
    // Many clients with secrets, closed or not, must not make every other client's errors slower
    // or scrub text those clients were never given: nothing is process-wide.
    for (let i = 0; i < 200; i++) {
      const other = createClient({ url, auth: { bearer: i === 0 ? TOKEN : `other-client-secret-${i}` } });
      await other.close();
    }
    const plain = client({ url, breaker: false });
    const error = (await plain.call('x', {}).catch((e: unknown) => e)) as RemoteCallException;
    // This client was given no secret; the closed client's token is not applied to its errors
    // (a process-wide registry would scrub it here, and grow with every client ever made).
    expect(error.message).toContain('you sent tok-echoed-5150-abcdef');
  });
});
