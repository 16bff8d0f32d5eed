/**
 * Loopback parts for requests that go through a proxy: an origin that reads each whole request,
 * records it and drops the connection without an answer, and an http proxy that tunnels CONNECT.
 */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { TEST_CERT, TEST_KEY } from './tls-fixture.js';

type Cleanups = Array<() => Promise<unknown> | void>;

export interface Seen {
  path: string;
  attempt: string | undefined;
  left: string | undefined;
}

/** A server of `kind` that reads each whole request, records it, then drops the connection without an answer. */
export async function readThenReset(kind: 'http' | 'https', seen: Seen[], cleanups: Cleanups): Promise<number> {
  const sockets = new Set<net.Socket>();
  const onRequest = (req: http.IncomingMessage): void => {
    req.resume();
    req.on('end', () => {
      seen.push({
        path: req.url ?? '',
        attempt: req.headers['x-hotcold-attempt'] as string | undefined,
        left: req.headers['x-hotcold-timeout-ms'] as string | undefined,
      });
      req.socket.destroy();
    });
  };
  const server = kind === 'https' ? https.createServer({ key: TEST_KEY, cert: TEST_CERT }, onRequest) : http.createServer(onRequest);
  server.on('connection', (socket: net.Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return (server.address() as net.AddressInfo).port;
}

/** An http proxy that tunnels CONNECT to wherever it is asked (loopback only here). */
export async function connectProxy(cleanups: Cleanups): Promise<{ port: number; tunnels: () => number }> {
  let tunnels = 0;
  const sockets = new Set<net.Socket>();
  const server = http.createServer((_req, res) => res.writeHead(405).end());
  server.on('connect', (req: http.IncomingMessage, client: net.Socket, head: Buffer) => {
    tunnels++;
    const [host, port] = (req.url ?? '').split(':');
    const upstream = net.connect(Number(port), host ?? '127.0.0.1', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('error', () => {
        client.destroy();
        upstream.destroy();
      });
      s.once('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => {
    for (const socket of sockets) socket.destroy();
    return new Promise((resolve) => server.close(resolve));
  });
  return { port: (server.address() as net.AddressInfo).port, tunnels: () => tunnels };
}


