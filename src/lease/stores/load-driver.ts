import { DriverMissingError } from '../errors.js';

/**
 * Loads an optional peer dependency on first use, so an application that only uses PostgreSQL
 * never needs better-sqlite3 installed (and vice versa).
 */
export async function loadDriver<T>(packageName: string, store: string): Promise<T> {
  try {
    const mod = (await import(packageName)) as { default?: T } & T;
    return mod.default ?? mod;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new DriverMissingError(packageName, store, error);
    }
    throw error;
  }
}
