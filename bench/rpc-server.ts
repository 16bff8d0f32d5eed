/**
 * The client benchmark's JSON-RPC server: node:http and nothing else, in its own process (and,
 * with `--workers N`, N cluster workers sharing the port) so that it answers as fast as this
 * machine allows and the client's cost is what the benchmark sees. It does the least a real
 * node must: read the body, take the request id, answer with it and the node headers.
 *
 * Protocol with the parent (IPC): prints `{"url": …}` as its first stdout line once listening;
 * on the message `'cpu'` it replies `{ cpuUs }`, the CPU time (user + system, µs) all its
 * processes have used so far, so the bench can check the server was never the bottleneck.
 * Exits when its stdin closes.
 */
import cluster from 'node:cluster';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

const HEADERS = {
  'Content-Type': 'application/json',
  'X-Hotcold-Node': 'bench',
  'X-Hotcold-Epoch': '1',
};
const HEALTH = JSON.stringify({ status: 'active', node: 'bench', epoch: 1 });

function serve(port: number, onListening: (port: number) => void): void {
  const server = http.createServer((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, HEADERS).end(HEALTH);
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let id: unknown;
      try {
        id = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id?: unknown }).id ?? null;
      } catch {
        res.writeHead(400, HEADERS).end('{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}');
        return;
      }
      res.writeHead(200, HEADERS).end(`{"jsonrpc":"2.0","id":${JSON.stringify(id)},"result":1}`);
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(port, '127.0.0.1', () => onListening((server.address() as AddressInfo).port));
}

const workersArg = process.argv.indexOf('--workers');
const workers = workersArg >= 0 ? Math.max(1, Number(process.argv[workersArg + 1]) || 1) : 1;

if (cluster.isPrimary && workers > 1) {
  // The primary picks a free port first, so every worker listens on the same one.
  const probe = http.createServer();
  probe.listen(0, '127.0.0.1', () => {
    const port = (probe.address() as AddressInfo).port;
    probe.close(() => {
      let ready = 0;
      const cpuOf = new Map<number, number>();
      for (let i = 0; i < workers; i++) {
        const worker = cluster.fork({ BENCH_PORT: String(port) });
        worker.on('message', (m: { listening?: boolean; cpuUs?: number }) => {
          if (m.listening === true && ++ready === workers) {
            process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, workers })}\n`);
          }
          if (typeof m.cpuUs === 'number') cpuOf.set(worker.id, m.cpuUs);
        });
      }
      process.on('message', (m) => {
        if (m !== 'cpu') return;
        const all = Object.values(cluster.workers ?? {});
        let pending = all.length;
        for (const w of all) {
          w?.once('message', () => {
            if (--pending > 0) return;
            const own = process.cpuUsage();
            let total = own.user + own.system;
            for (const v of cpuOf.values()) total += v;
            process.send?.({ cpuUs: total });
          });
          w?.send('cpu');
        }
      });
    });
  });
  process.stdin.resume();
  process.stdin.on('end', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
} else if (cluster.isWorker) {
  serve(Number(process.env.BENCH_PORT), () => process.send?.({ listening: true }));
  process.on('message', (m) => {
    if (m !== 'cpu') return;
    const used = process.cpuUsage();
    process.send?.({ cpuUs: used.user + used.system });
  });
} else {
  serve(0, (port) => process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${port}`, workers: 1 })}\n`));
  process.on('message', (m) => {
    if (m !== 'cpu') return;
    const used = process.cpuUsage();
    process.send?.({ cpuUs: used.user + used.system });
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}
