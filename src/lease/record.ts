import { FencingError, TokenExhaustedError } from './errors.js';
import { GENERATION_SPAN, tokenGeneration } from './generation.js';
import type { LeaseRecord } from './types.js';

/** The raw lease row as every dialect returns it (drivers differ: bigint as string, 1/0 booleans). */
export type LeaseRow = Record<string, unknown>;

function num(value: unknown): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (typeof value === 'string') return Number(value);
  return Number.NaN;
}

/**
 * A counter column (token, version) read exactly: a value a number cannot hold exactly would be
 * ROUNDED, and two rounded tokens compare equal — so it is refused, never rounded.
 */
function counter(name: string, column: string, value: unknown): number {
  const n = num(value);
  if (Number.isSafeInteger(n) && (typeof value !== 'string' || /^-?\d+$/.test(value.trim()))) return n;
  throw new TokenExhaustedError(name, String(value), `(column ${column}) read from the database is not an exact integer`);
}

/**
 * Throws `TokenExhaustedError` unless `next`, the token about to be issued, is a safe integer
 * (and, when `generation` is given, still of that failover generation: 2^32 − 1 tokens each).
 */
export function requireIssuableToken(name: string, current: number, step: number, generation?: number): number {
  const next = current + step;
  if (!Number.isSafeInteger(next)) throw new TokenExhaustedError(name, (BigInt(current) + BigInt(step)).toString(), 'would be issued next');
  if (generation !== undefined && generation > 0 && tokenGeneration(next) !== generation) {
    throw new TokenExhaustedError(name, String(next), `would leave failover generation ${generation} (${GENERATION_SPAN - 1} tokens each)`);
  }
  return next;
}

/** Machine name of a holder id `machineName#instanceId`. */
export function machineNameOf(holder: string): string {
  const at = holder.lastIndexOf('#');
  return at < 0 ? holder : holder.slice(0, at);
}

/**
 * Converts a row read with `now_ms` (the DB clock at the read) into a record whose ages are
 * differences on that one clock.
 */
export function toRecord(name: string, row: LeaseRow): LeaseRecord {
  const holder = typeof row.holder === 'string' ? row.holder : null;
  const renewedAt = num(row.renewed_at);
  const waitIntervalMs = num(row.wait_interval_ms);
  const now = num(row.now_ms);
  const expiresIn = renewedAt + waitIntervalMs - now;
  return {
    name,
    holder,
    machineName: holder === null ? null : machineNameOf(holder),
    token: counter(name, 'token', row.token),
    version: counter(name, 'version', row.version),
    ageMs: Math.max(0, now - renewedAt),
    expiresInMs: holder === null ? 0 : expiresIn,
    waitIntervalMs,
    generation: row.generation === undefined || row.generation === null ? 0 : counter(name, 'generation', row.generation),
  };
}

/**
 * Whether `token` is the current token of a live (held, unexpired by DB time) lease, issued in the
 * database's current failover generation, and (when `holder` is given) held by `holder`.
 */
export function isCurrent(record: LeaseRecord, token: number, holder?: string): boolean {
  return (
    record.holder !== null &&
    record.token === token &&
    record.expiresInMs > 0 &&
    tokenGeneration(token) >= (record.generation ?? 0) &&
    (holder === undefined || record.holder === holder)
  );
}

/**
 * Throws `FencingError` unless `row` (read with `now_ms` and `generation`) shows `token` current,
 * of the current failover generation, unexpired and (when `holder` is given) held by `holder`.
 */
export function requireCurrent(name: string, token: number, row: Record<string, unknown> | undefined, holder?: string): void {
  if (row === undefined) {
    throw new FencingError(`lease '${name}' does not exist: token ${token} is not current`, name, token, undefined);
  }
  const record = toRecord(name, row);
  if (isCurrent(record, token, holder)) return;
  const why =
    tokenGeneration(token) < (record.generation ?? 0)
      ? `it was issued in failover generation ${tokenGeneration(token)}; the database has failed over to generation ${record.generation}`
      : record.token !== token
        ? `the current token is ${record.token}`
        : record.holder === null
          ? 'the lease was released'
          : holder !== undefined && record.holder !== holder
            ? 'the lease row names another holder'
            : 'the lease expired by the database clock';
  throw new FencingError(`fenced: token ${token} of lease '${name}' is stale (${why})`, name, token, record.token);
}
