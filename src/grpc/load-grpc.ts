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
import { isModuleNotFound, isPackageMissing } from '../shared/missing-module.js';
import { redactText } from '../shared/redact.js';

export type GrpcModule = typeof Grpc;

/**
 * @throws {ConfigurationError} naming `@grpc/grpc-js` when the package is not installed.
 */
export function loadGrpc(): GrpcModule {
  try {
    return createRequire(import.meta.url)('@grpc/grpc-js') as GrpcModule;
  } catch (error) {
    if (isPackageMissing(error, '@grpc/grpc-js')) throw new ConfigurationError('@grpc/grpc-js', 'is not installed: hotcold/grpc needs it (npm install @grpc/grpc-js)');
    // Installed, but a module it needs is missing (a broken install): "not installed" would send
    // the user looking for the wrong fault.
    if (isModuleNotFound(error)) {
      const detail = redactText(error instanceof Error ? (error.message.split('\n')[0] ?? '') : String(error));
      throw new ConfigurationError('@grpc/grpc-js', `is installed but cannot be loaded (${detail}): reinstall it (npm install @grpc/grpc-js)`);
    }
    throw error;
  }
}
