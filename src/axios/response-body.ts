/**
 * The body of a backend failure (a 5xx), as text, whatever `responseType` the request asked for:
 * a node's own 503 says in its body whether it executed the request (`{"error":"NOT_ACTIVE"}`).
 * Only the first {@link MAX_FAILURE_BODY_BYTES} are read.
 */
import type { Readable } from 'node:stream';

export const MAX_FAILURE_BODY_BYTES = 64 * 1024;

function isReadable(data: unknown): data is Readable {
  return typeof data === 'object' && data !== null && typeof (data as { on?: unknown }).on === 'function' && typeof (data as { pipe?: unknown }).pipe === 'function';
}

/**
 * @param encoding the request's `responseEncoding`: axios's http adapter decodes a text body with
 *   it, so a node's `{"error":"NOT_ACTIVE"}` under `'base64'`, `'hex'` or `'utf16le'` reads as
 *   something else. The bytes are recovered from the string (these encodings round-trip) and read
 *   as UTF-8, as the node wrote them.
 */
export async function readBodyText(data: unknown, encoding?: unknown): Promise<unknown> {
  if (typeof data === 'string') {
    if (typeof encoding !== 'string' || !Buffer.isEncoding(encoding)) return data;
    const normal = encoding.toLowerCase();
    if (normal === 'utf8' || normal === 'utf-8') return data;
    const bytes = Buffer.from(data, encoding);
    return bytes.toString('utf8', 0, Math.min(bytes.length, MAX_FAILURE_BODY_BYTES));
  }
  if (Buffer.isBuffer(data)) return data.toString('utf8', 0, Math.min(data.length, MAX_FAILURE_BODY_BYTES));
  if (data instanceof ArrayBuffer) return Buffer.from(data, 0, Math.min(data.byteLength, MAX_FAILURE_BODY_BYTES)).toString('utf8');
  if (isReadable(data)) {
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of data) {
        const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(String(chunk));
        chunks.push(buffer);
        size += buffer.length;
        if (size >= MAX_FAILURE_BODY_BYTES) break;
      }
    } catch {
      // A body cut off: judge by what arrived.
    } finally {
      data.destroy();
    }
    return Buffer.concat(chunks).toString('utf8', 0, Math.min(size, MAX_FAILURE_BODY_BYTES));
  }
  // Another adapter may have parsed it already.
  return data;
}
