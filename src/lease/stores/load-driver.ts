import { redactText } from '../../shared/redact.js';
import { isModuleNotFound, isPackageMissing, packageOf } from '../../shared/missing-module.js';
import { DriverMissingError, StoreConfigurationError } from '../errors.js';

/**
 * Loads an optional peer dependency on first use, so an application that only uses PostgreSQL
 * never needs better-sqlite3 installed (and vice versa).
 * @throws {DriverMissingError} when the package is not installed.
 * @throws {StoreConfigurationError} (fault `driver-missing`) when it is installed but a module it
 * needs is missing: a broken install, which "not installed" would misdescribe.
 */
export async function loadDriver<T>(packageName: string, store: string): Promise<T> {
  try {
    const mod = (await import(packageName)) as { default?: T } & T;
    return mod.default ?? mod;
  } catch (error) {
    if (isPackageMissing(error, packageName)) throw new DriverMissingError(packageName, store, error);
    if (isModuleNotFound(error)) {
      const pkg = packageOf(packageName);
      const detail = redactText(error instanceof Error ? error.message.split('\n')[0] ?? '' : String(error));
      throw new StoreConfigurationError('driver-missing', `${store} cannot load the '${pkg}' package, which is installed but incomplete (${detail})`, `reinstall it: npm install ${pkg}`, error);
    }
    throw error;
  }
}
