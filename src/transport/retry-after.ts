/** `Retry-After` parsing lives in shared/ (every adapter needs it); re-exported for the transport. */
export { parseHttpDate, parseRetryAfter } from '../shared/retry-after.js';
