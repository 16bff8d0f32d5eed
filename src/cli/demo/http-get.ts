import http from 'node:http';

export interface JsonAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Record<string, unknown> | undefined;
}

/**
 * One HTTP exchange without keep-alive (no pooled socket outlives it), for probes of the demo's
 * own processes. Resolves undefined on any connection failure or timeout.
 */
export function httpJson(method: 'GET' | 'POST', url: string, timeoutMs: number, body?: unknown): Promise<JsonAnswer | undefined> {
  return new Promise((resolve) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const request = http.request(
      url,
      {
        method,
        agent: false,
        timeout: timeoutMs,
        headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          let parsed: Record<string, unknown> | undefined;
          try {
            const value: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            parsed = typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
          } catch {
            parsed = undefined;
          }
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body: parsed });
        });
        response.on('error', () => resolve(undefined));
      },
    );
    request.on('timeout', () => request.destroy());
    request.on('error', () => resolve(undefined));
    request.end(payload);
  });
}

export function httpGetJson(url: string, timeoutMs: number): Promise<JsonAnswer | undefined> {
  return httpJson('GET', url, timeoutMs);
}
