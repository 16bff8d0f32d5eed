import { ConfigurationError } from '../errors.js';

/**
 * Option checks shared by every constructor. Each throws {@link ConfigurationError} naming the
 * field; none echoes the value, which may be a credential.
 */

export function requireFiniteNonNegative(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new ConfigurationError(field, 'must be a finite number >= 0');
  }
  return value;
}

export function requirePositive(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw new ConfigurationError(field, 'must be a finite number > 0');
  }
  return value;
}

export function requirePositiveInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) {
    throw new ConfigurationError(field, 'must be a positive integer');
  }
  return value;
}

export function requireNonNegativeInteger(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ConfigurationError(field, 'must be an integer >= 0');
  }
  return value;
}

export function requireRatio(field: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) {
    throw new ConfigurationError(field, 'must be a number in [0, 1]');
  }
  return value;
}

export function requireNonEmptyString(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.trim().length === 0) {
    throw new ConfigurationError(field, 'must be a non-empty string');
  }
  return value;
}

export function requireBoolean(field: string, value: unknown): boolean {
  if (typeof value !== 'boolean') throw new ConfigurationError(field, 'must be a boolean');
  return value;
}

export function requireOneOf<T extends string>(field: string, value: unknown, allowed: readonly T[]): T {
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigurationError(field, `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}`);
  }
  return value as T;
}

export function requireHttpUrl(field: string, value: unknown): URL {
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigurationError(field, 'must be a non-empty http(s) URL');
  }
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigurationError(field, 'is not a valid URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ConfigurationError(field, 'must use http: or https:');
  }
  return url;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/** A bare SQL identifier, safe to splice into DDL and DML on every supported dialect. */
export function requireSqlIdentifier(field: string, value: unknown): string {
  if (typeof value !== 'string' || !IDENTIFIER.test(value)) {
    throw new ConfigurationError(field, 'must be an SQL identifier: a letter or _, then letters, digits or _, at most 63 characters');
  }
  return value;
}

/** Rejects keys the caller did not mean (typos like `maxAttempt`), naming the first one. */
export function rejectUnknownKeys(prefix: string, value: object, known: readonly string[]): void {
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) throw new ConfigurationError(prefix ? `${prefix}.${key}` : key, 'is not a known option');
  }
}

export function requireObject(field: string, value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ConfigurationError(field, 'must be an object');
  }
  return value as Record<string, unknown>;
}

/** How {@link requireMs} judges a duration. */
export interface MsRule {
  /** Whether 0 is allowed. @default false */
  allowZero?: boolean;
  /** Whether `Infinity` ("never") is allowed. @default false */
  allowInfinity?: boolean;
  /** An upper bound, for values handed to code that cannot chain timers (opossum). */
  max?: number;
}

/**
 * The one rule for every millisecond input: a number, not NaN, not negative, finite unless
 * `allowInfinity`. There is no 2^31−1 cap: every timer goes through `setTimer`, which chains
 * longer delays instead of letting Node fire them after 1 ms.
 */
export function requireMs(field: string, value: unknown, rule: MsRule = {}): number {
  if (typeof value !== 'number' || Number.isNaN(value)) throw new ConfigurationError(field, 'must be a number of milliseconds');
  if (value === Number.POSITIVE_INFINITY) {
    if (rule.allowInfinity === true) return value;
    throw new ConfigurationError(field, 'must be a finite number of milliseconds');
  }
  if (!Number.isFinite(value) || value < 0 || (value === 0 && rule.allowZero !== true)) {
    throw new ConfigurationError(field, rule.allowZero === true ? 'must be a number of milliseconds >= 0' : 'must be a number of milliseconds > 0');
  }
  if (rule.max !== undefined && value > rule.max) throw new ConfigurationError(field, `must be at most ${rule.max} ms`);
  return value;
}

/** An RFC 9110 field-value of visible ASCII: VCHARs, with spaces or tabs only between them. */
const HEADER_TEXT = /^(?:[\x21-\x7e](?:[\x20-\x7e\t]*[\x21-\x7e])?)?$/;

/**
 * Configured text that will be sent as an HTTP header value or gRPC metadata value (a machine
 * name in `X-Hotcold-Node`, a header a test server or the conformance kit sends): visible ASCII
 * (0x21–0x7E), with spaces or tabs only between visible characters (RFC 9110 `field-value`,
 * without `obs-text`). Node refuses anything else when the header is set (`ERR_INVALID_CHAR`;
 * grpc-js: "contains illegal characters"), which is at the first answer, long after
 * construction, so the text is checked where it is configured.
 *
 * Note the argument order: value first, then the field it came from.
 * @throws {ConfigurationError} naming `field` (never echoing the value, which may be a credential)
 */
export function requireHeaderText(value: unknown, field: string): string {
  if (typeof value !== 'string' || !HEADER_TEXT.test(value)) {
    throw new ConfigurationError(field, 'must be visible ASCII text (spaces or tabs only between characters): it is sent in an HTTP header or gRPC metadata');
  }
  return value;
}
