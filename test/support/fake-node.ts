/**
 * A stand-in for a hotcold node behind a real balancer: a loopback HTTP server that speaks just
 * enough of the wire contract (DESIGN §1) to tell which node a balancer sent a request to.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * `active`: /health 200, calls answered with a JSON-RPC result; `standby`: /health 503, calls
 * refused with the node's own `503 NOT_ACTIVE`; `reset`: reads the request, then cuts the
 * connection (a crash after the call arrived); `stall`: reads the request and never answers.
 */
export type FakeNodeMode = 'active' | 'standby' | 'reset' | 'stall';

export interface FakeNode {
  readonly name: string;
  readonly port: number;
  mode: FakeNodeMode;
  /** Calls (anything but /health) that arrived complete. */
  readonly calls: number;
  /** Stops listening (connections to the port are refused from now on) and cuts open ones. */
  close(): Promise<void>;
}

export async function startFakeNode(name: string, mode: FakeNodeMode, port = 0): Promise<FakeNode> {
  let calls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const nodeHeaders = { 'x-hotcold-node': name, 'x-hotcold-epoch': '1', 'content-type': 'application/json' };
      const current = node.mode;
      if (req.url === '/health') {
        const active = current === 'active';
        res.writeHead(active ? 200 : 503, nodeHeaders);
        res.end(JSON.stringify({ status: active ? 'active' : 'standby', node: name }));
        return;
      }
      calls += 1;
      if (current === 'reset') {
        req.socket.destroy();
        return;
      }
      if (current === 'stall') return;
      if (current === 'standby') {
        res.writeHead(503, { ...nodeHeaders, 'retry-after': '0' });
        res.end(JSON.stringify({ error: 'NOT_ACTIVE', node: name }));
        return;
      }
      let id: unknown = null;
      try {
        id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown }).id ?? null;
      } catch {
        // Not JSON: answer with a null id.
      }
      res.writeHead(200, { ...nodeHeaders, 'x-hotcold-dedup': '1' });
      res.end(JSON.stringify({ jsonrpc: '2.0', id, result: { node: name } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  const node: FakeNode = {
    name,
    port: (server.address() as AddressInfo).port,
    mode,
    get calls() {
      return calls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return node;
}
