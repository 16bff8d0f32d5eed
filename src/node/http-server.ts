import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { NodeAddress } from './types.js';

/** The node's HTTP server: listening, and a close that leaves no socket open. */
export class NodeServer {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();

  constructor(listener: (req: IncomingMessage, res: ServerResponse) => void) {
    this.server = createServer(listener);
    // Longer than the dev balancer's idle keep-alive, so the proxy never reuses a socket the node
    // is closing at the same moment (which would turn a never-delivered call into a 502).
    this.server.keepAliveTimeout = 15_000;
    this.server.headersTimeout = 20_000;
    this.server.on('connection', (socket: Socket) => {
      this.sockets.add(socket);
      socket.once('close', () => this.sockets.delete(socket));
    });
  }

  get listening(): boolean {
    return this.server.listening;
  }

  async listen(port: number, host: string): Promise<NodeAddress> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    const info = this.server.address() as AddressInfo;
    const shown = info.family === 'IPv6' ? `[${info.address}]` : info.address;
    return { host: info.address, port: info.port, url: `http://${shown}:${info.port}` };
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeIdleConnections();
      // Anything still open has had its answer; a kept-alive socket must not hold the process.
      setImmediate(() => {
        for (const socket of this.sockets) socket.destroy();
      });
    });
  }
}
