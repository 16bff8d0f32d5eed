/** The transport layer: what the client pipeline uses to move one attempt over the wire. */
export { createAxiosTransport } from './axios-transport.js';
export type { AxiosTransport } from './axios-transport.js';
export type { AxiosTransportOptions, TransportAuth } from './options.js';
export { classify, parseEpoch } from './classify.js';
export type { AttemptFacts, AnswerFacts, FailureFacts, FailureReason, AnswerHeaders, ClassifyContext, Classified } from './classify.js';
export { parseRetryAfter } from './retry-after.js';
export type { Transport, TransportRequest, TransportResponse, HealthResult } from './types.js';
