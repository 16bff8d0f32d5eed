/**
 * A TCP proxy on loopback that delays every chunk by `delayMs` in each direction, keeping the
 * order: a database a few milliseconds away (another host, another zone) instead of on loopback.
 */
import net from 'node:net';

export interface LatencyProxy {
  port: number;
  close(): Promise<void>;
}

export async function startLatencyProxy(targetPort: number, delayMs: number, targetHost = '127.0.0.1'): Promise<LatencyProxy> {
  const sockets = new Set<net.Socket>();
  const delayed = (to: net.Socket): ((chunk: Buffer) => void) => {
    // Each chunk leaves delayMs after it arrived, never before the one ahead of it.
    let last = 0;
    return (chunk) => {
      const at = Math.max(performance.now() + delayMs, last);
      last = at;
      setTimeout(() => {
        if (!to.destroyed) to.write(chunk);
      }, at - performance.now());
    };
  };
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, targetHost);
    sockets.add(client);
    sockets.add(upstream);
    const end = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    for (const s of [client, upstream]) {
      s.on('error', end);
      s.on('close', end);
    }
    client.on('data', delayed(upstream));
    upstream.on('data', delayed(client));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (address === null || typeof address === 'string') throw new Error('proxy did not bind');
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
