/**
 * The keys of `grpcInterceptor`'s `methods`: gRFC A6's `methodConfig` names, written as paths.
 * A6 names a method `{ service: 'pkg.Service', method: 'Method' }` and a whole service
 * `{ service: 'pkg.Service' }` (no method); here they are `'/pkg.Service/Method'` (the path
 * grpc-js gives each call) and `'/pkg.Service/*'`. An exact method's entry wins over its
 * service's (the pipeline looks a method up by its path first).
 */
import { ConfigurationError } from '../errors.js';

/** `/service/method` or `/service/*`: the service a dotted name, the method one path segment. */
const METHOD_KEY = /^\/[A-Za-z_][\w.]*\/(?:[A-Za-z_]\w*|\*)$/;

/**
 * Checks every key of `methods` (when it is an object; the pipeline checks the rest).
 * @throws {ConfigurationError} naming `methods.<key>` for a key that is neither form
 */
export function requireGrpcMethodKeys(methods: unknown): void {
  if (typeof methods !== 'object' || methods === null) return;
  for (const key of Object.keys(methods)) {
    if (!METHOD_KEY.test(key)) {
      throw new ConfigurationError(
        `methods.${key}`,
        "must be a gRPC method path '/package.Service/Method' or a whole service '/package.Service/*' (gRFC A6's { service, method? })",
      );
    }
  }
}
