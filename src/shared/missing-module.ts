/**
 * Telling "the optional package is not installed" from "it is installed, but a module IT needs is
 * missing" (a broken or partial install): both fail with MODULE_NOT_FOUND, and reporting the
 * second as "not installed: npm install pg" sends a user who has pg installed looking for the
 * wrong fault.
 */

/** The package a specifier belongs to: `mysql2` for `mysql2/promise`, `@grpc/grpc-js` for itself. */
export function packageOf(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : (parts[0] ?? specifier);
}

/** Whether `error` is a failure to find a module at all (import() or require()). */
export function isModuleNotFound(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND';
}

/**
 * Whether a module-not-found `error` from loading `specifier` says that its package itself is
 * absent. Node names what it could not find in quotes ("Cannot find package 'pg' imported from
 * …", "Cannot find module 'pg'"); when the name is another package's, or a file's, the package
 * is there and broken.
 */
export function isPackageMissing(error: unknown, specifier: string): boolean {
  if (!isModuleNotFound(error)) return false;
  const named = /Cannot find (?:package|module) '([^']+)'/.exec(error instanceof Error ? error.message : '')?.[1];
  return named === undefined || packageOf(named) === packageOf(specifier);
}
