import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Default caller identity: a hash of the `Authorization` header, so two callers with different
 * credentials get separate idempotency keys, and the credential itself is never stored.
 */
export function defaultIdentify(req: IncomingMessage): string {
  const auth = req.headers.authorization;
  if (typeof auth !== 'string' || auth.length === 0) return 'anonymous';
  return `auth:${createHash('sha256').update(auth).digest('hex').slice(0, 32)}`;
}
