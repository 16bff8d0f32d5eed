/**
 * Client policies (internal, not part of the public API): backoff, retry budget, retry rules,
 * the retry loop, the circuit breaker and the call deadline. The client pipeline imports from here.
 */
export * from './backoff.js';
export * from './budget.js';
export * from './retry-rules.js';
export * from './deadline.js';
export * from './retry.js';
export * from './breaker.js';
