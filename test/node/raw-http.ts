/** Raw HTTP requests (node:http): the node's answers as sent, without any client's interpretation. */
import http from 'node:http';

export interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The answer's parsed JSON, as the server sent it: tests assert its shape with expect(). */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: any;
  /** ms from sending to the complete answer. */
  tookMs: number;
}

export function rawPost(url: string, path: string, payload: unknown, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const started = performance.now();
  const body = JSON.stringify(payload);
  return new Promise((resolve, reject) => {
    const req = http.request(`${url}${path}`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)), ...headers },
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.once('error', reject);
      res.once('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed, tookMs: performance.now() - started });
      });
    });
    req.end(body);
  });
}

export function rawRpc(url: string, method: string, params: unknown, headers: Record<string, string> = {}, id: number | string = 1): Promise<RawAnswer> {
  return rawPost(url, '/rpc', { jsonrpc: '2.0', id, method, params }, headers);
}
