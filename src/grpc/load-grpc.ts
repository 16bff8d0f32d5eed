/**
 * `@grpc/grpc-js` is an optional peer dependency: `hotcold/grpc` imports without it (an
 * application that bundles every entry, or only reads the types, must not fail to start), and the
 * first function that needs it loads it synchronously — an interceptor is built synchronously in
 * a client's constructor options. Missing, it is a permanent misconfiguration: a typed error at
 * once, never a failure on the first call.
 */
import { createRequire } from 'node:module';
import type * as Grpc from '@grpc/grpc-js';
import { ConfigurationError } from '../errors.js';

export type GrpcModule = typeof Grpc;

/**
 * @throws {ConfigurationError} naming `@grpc/grpc-js` when the package is not installed.
 */
export function loadGrpc(): GrpcModule {
  try {
    return createRequire(import.meta.url)('@grpc/grpc-js') as GrpcModule;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'MODULE_NOT_FOUND' || code === 'ERR_MODULE_NOT_FOUND') {
      throw new ConfigurationError('@grpc/grpc-js', 'is not installed: hotcold/grpc needs it (npm install @grpc/grpc-js)');
    }
    throw error;
  }
}
