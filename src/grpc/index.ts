/**
 * `hotcold/grpc`: hotcold's policy for `@grpc/grpc-js` clients (an optional peer dependency).
 * A client interceptor that runs every unary call through the pipeline (classification by gRPC
 * status and `hotcold-*` metadata, retries, breaker, deadlines), and a health probe over the
 * standard `grpc.health.v1` service. Guide: docs/grpc.md.
 *
 * @module hotcold/grpc
 */
export { grpcInterceptor } from './interceptor.js';
export type { GrpcInterceptor, GrpcInterceptorOptions } from './interceptor.js';
export { grpcHealthProbe } from './health-probe.js';
export type { GrpcHealthProbeOptions, GrpcHealthTarget } from './health-probe.js';
export { classifyGrpcStatus } from './classify-status.js';
export type { AttemptEvidence, GrpcClassifyContext } from './classify-status.js';
export { rpcExceptionOf } from './error-status.js';
export { GrpcStatus, grpcStatusName } from './status-codes.js';
export type { GrpcStatusName } from './status-codes.js';
export { GrpcMetadataKeys, readResponseFacts } from './metadata-facts.js';
export type { ResponseFacts } from './metadata-facts.js';
export {
  HEALTH_CHECK_PATH,
  ServingStatus,
  encodeHealthRequest,
  decodeHealthRequest,
  encodeHealthResponse,
  decodeHealthResponse,
} from './health-codec.js';
export type { HealthCheckRequest, HealthCheckResponse } from './health-codec.js';
export type * from './grpc-types.js';
export type { Logger, LogLevel } from '../shared/logger.js';
