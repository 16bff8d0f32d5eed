/** The conformance kit of docs/wire.md §12: drives a running server through the wire spec. */
export { runConformance, CONFORMANCE_CHECKS } from './run.js';
export { formatConformanceReport } from './format.js';
export type { Check as ConformanceCheck } from './check.js';
export type { ConformanceOptions, ConformanceOutcome, ConformanceReport, ConformanceResult } from './types.js';
