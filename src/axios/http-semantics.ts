/**
 * HTTP method semantics the adapter decides retries by (RFC 9110 §9.2.2, "Idempotent Methods"):
 * GET, HEAD, OPTIONS, TRACE, PUT and DELETE are idempotent — repeating one has the effect of
 * sending it once — so a request that may have run may be sent again. POST, PATCH and any other
 * method are not, unless the request carries an `Idempotency-Key` header (IETF httpapi draft
 * "The Idempotency-Key HTTP Header Field") and the server deduplicates by it.
 */

/** RFC 9110 §9.2.2: the methods whose repetition is harmless. */
export const IDEMPOTENT_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** The request header of the IETF httpapi draft (case-insensitive on the wire). */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';

/** Printable ASCII, 1..200 characters: what the wire contract (DESIGN §1) accepts as a key. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x20-\x7e]{1,200}$/;

/** Whether `method` (any case) is idempotent by RFC 9110. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase());
}
