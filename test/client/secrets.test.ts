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

/** A server that answers every call with whatever `answer` returns (status, headers, JSON body). */
async function scriptedServer(
  answer: (id: number) => { status: number; headers?: Record<string, string>; body: unknown },
): Promise<{ url: string; close(): Promise<void> }> {
  const s = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      const id = req.url === '/health' ? 0 : (JSON.parse(body) as { id: number }).id;
      const a = answer(id);
      res.writeHead(a.status, { 'content-type': 'application/json', ...(a.headers ?? {}) });
      res.end(JSON.stringify(a.body));
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () => new Promise((r) => s.close(() => r())),
  };
}

describe('secrets echoed in other forms', () => {
  const SHORT = 'p9#';
  const ODD = 'tok_S3cr3t+Value/42=';

  it('as an object key, percent-encoded, or a short password standing alone: scrubbed everywhere it leaves', async () => {
    const cases: Array<{ options: Partial<Parameters<typeof createClient>[0]>; error: unknown; secret: string }> = [
      { options: { auth: { bearer: ODD } }, error: { code: 1, message: 'x', data: { [ODD]: 'seen' } }, secret: ODD },
      { options: { auth: { bearer: ODD } }, error: { code: 1, message: 'x', data: { echo: encodeURIComponent(ODD) } }, secret: encodeURIComponent(ODD) },
      { options: { auth: { username: 'u', password: SHORT } }, error: { code: 1, message: `bad password ${SHORT}` }, secret: SHORT },
      { options: { headers: { Cookie: 'sid=cookie-val-777; theme=dark' } }, error: { code: 1, message: 'x', data: 'your session cookie-val-777 expired' }, secret: 'cookie-val-777' },
    ];
    for (const c of cases) {
      const s = await scriptedServer((id) => ({ status: 200, body: { jsonrpc: '2.0', id, error: c.error } }));
      const client = createClient({ url: s.url, breaker: false, ...c.options });
      try {
        const error = await client.call('x', {}).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(RemoteCallException);
        expect(printed(error)).not.toContain(c.secret);
      } finally {
        await client.close();
        await s.close();
      }
    }
  });

  it('a secret a server sends as its node name never reaches state$, failover$, reconnected$ or the callbacks', async () => {
    let node = 'plain-node';
    let epoch = 1;
    let down = false;
    type Answer = { status: number; headers?: Record<string, string>; body: unknown };
    const s = await scriptedServer((id): Answer =>
      down
        ? { status: 503, headers: { 'x-hotcold-not-forwarded': '1' }, body: { error: 'no server' } }
        : {
            status: 200,
            headers: { 'x-hotcold-node': node, 'x-hotcold-epoch': String(epoch) },
            body: id === 0 ? { status: 'active', node, epoch } : { jsonrpc: '2.0', id, result: 'ok' },
          },
    );
    const seen: unknown[] = [];
    const client = createClient({
      url: s.url,
      auth: { bearer: ODD },
      methods: { ping: { idempotent: true } },
      reconnect: { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 500 },
      onReconnect: (info) => seen.push(info),
    });
    try {
      client.state$.subscribe((st) => seen.push(st));
      client.failover$.subscribe((f) => seen.push(f));
      client.reconnected$.subscribe((r) => seen.push(r));
      await client.call('ping');
      down = true;
      const pending = client.call('ping');
      await new Promise((r) => setTimeout(r, 100));
      node = ODD; // the new "node" echoes the credential as its name
      epoch = 2;
      down = false;
      await pending;
      seen.push(client.state);
      const text = JSON.stringify(seen);
      expect(text).not.toContain(ODD);
      expect(text).toContain('[REDACTED]');
    } finally {
      await client.close();
      await s.close();
    }
  });
});
