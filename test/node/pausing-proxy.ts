/**
 * A TCP proxy on loopback that can hold all traffic (both directions, every connection) — a
 * database that stops answering at a chosen moment — optionally triggered by bytes the client
 * sends (e.g. the PostgreSQL simple-query message `COMMIT`).
 */
import net from 'node:net';

export interface PausingProxy {
  port: number;
  /** Holds everything from now on (buffered, not dropped). */
  pause(): void;
  /** Forwards what was held, in order, and everything after. */
  resume(): void;
  /** Pauses the moment a client chunk contains `pattern`, holding that chunk too; resolves then. */
  pauseOnClientBytes(pattern: Buffer): Promise<void>;
  close(): Promise<void>;
}

export async function startPausingProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<PausingProxy> {
  let paused = false;
  let trigger: { pattern: Buffer; fire: () => void } | undefined;
  const held: Array<[net.Socket, Buffer]> = [];
  const sockets = new Set<net.Socket>();
  const forward = (to: net.Socket, chunk: Buffer): void => {
    if (paused) held.push([to, chunk]);
    else if (!to.destroyed) to.write(chunk);
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
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.on('data', (chunk: Buffer) => {
      if (trigger && chunk.includes(trigger.pattern)) {
        paused = true;
        const fire = trigger.fire;
        trigger = undefined;
        fire();
      }
      forward(upstream, chunk);
    });
    upstream.on('data', (chunk: Buffer) => forward(client, chunk));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    pause: () => {
      paused = true;
    },
    resume: () => {
      paused = false;
      for (const [to, chunk] of held.splice(0)) if (!to.destroyed) to.write(chunk);
    },
    pauseOnClientBytes: (pattern) => new Promise<void>((resolve) => (trigger = { pattern, fire: resolve })),
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
