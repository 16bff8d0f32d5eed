/**
 * A TCP proxy for tests (node:net): what a virtual IP or a cloud database's endpoint does during a
 * failover. Clients connect to `port`; each connection is forwarded to the current target.
 *
 * - `repoint(port)`: new connections go to another server (the promoted replica); existing ones
 *   are cut, as an endpoint switch does.
 * - `stall()` / `flow()`: stop / resume forwarding in both directions without closing anything.
 *   In a replication path this is replication lag: the primary's WAL (or binlog) waits in the
 *   primary's socket buffers, and is lost with it if the primary dies meanwhile.
 * - `cut()`: closes every connection (buffered data is dropped).
 */
import net from 'node:net';

export interface TcpProxy {
  readonly port: number;
  /** The port connections are forwarded to now. */
  readonly target: number;
  /** `keep`: leave the existing connections to the old target (a partition: they hang, not close). */
  repoint(port: number, options?: { keep?: boolean }): void;
  stall(): void;
  flow(): void;
  cut(): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
  piped: boolean;
}

export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let target = targetPort;
  let stalled = false;
  const pairs = new Set<Pair>();
  const connect = (pair: Pair): void => {
    if (pair.piped) return;
    pair.piped = true;
    pair.client.pipe(pair.upstream);
    pair.upstream.pipe(pair.client);
  };
  const server = net.createServer((client) => {
    const upstream = net.connect({ host: '127.0.0.1', port: target });
    const pair: Pair = { client, upstream, piped: false };
    pairs.add(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    if (stalled) {
      client.pause();
      upstream.pause();
    } else {
      connect(pair);
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  const cut = (): void => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };
  return {
    port,
    get target() {
      return target;
    },
    repoint(next, options) {
      target = next;
      if (!options?.keep) cut();
    },
    stall() {
      stalled = true;
      for (const pair of pairs) {
        // pipe() resumes a paused source when the destination drains: unpipe so nothing moves.
        pair.client.unpipe(pair.upstream);
        pair.upstream.unpipe(pair.client);
        pair.client.pause();
        pair.upstream.pause();
        pair.piped = false;
      }
    },
    flow() {
      stalled = false;
      for (const pair of pairs) connect(pair);
    },
    cut,
    close() {
      cut();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
