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

/**
 * Visible ASCII, 1..200 characters: a key the policy takes as a call's idempotency key (its
 * `ExecuteOptions.idempotencyKey` accepts exactly these). A header of the caller's outside it is
 * sent as it is, but the call counts as one without a key.
 */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,200}$/;

/** Whether `method` (any case) is idempotent by RFC 9110. */
export function isIdempotentMethod(method: string): boolean {
  return IDEMPOTENT_METHODS.has(method.toUpperCase());
}
