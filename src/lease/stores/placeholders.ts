import { scanPgPlaceholders } from './pg-lexer.js';

/**
 * Turns the `?` placeholders of the SqlExecutor contract into PostgreSQL's `$1, $2, …`.
 *
 * The text is passed through unchanged when there is nothing to bind (`paramCount` 0: a `?` there
 * can only be the jsonb operator) or when it already uses native `$n` placeholders (so a
 * statement with both parameters and the jsonb `?` operator is written with `$n`). Otherwise only
 * placeholder `?`s are rewritten: not those in strings, quoted identifiers, dollar quotes,
 * comments, or operators such as `?|`, `?&`, `@?` (see pg-lexer.ts).
 */
export function toPgPlaceholders(sql: string, paramCount: number): string {
  if (paramCount === 0) return sql;
  const { questionMarks, natives } = scanPgPlaceholders(sql);
  if (natives.length > 0 || questionMarks.length === 0) return sql;
  let out = '';
  let from = 0;
  questionMarks.forEach((at, index) => {
    out += `${sql.slice(from, at)}$${index + 1}`;
    from = at + 1;
  });
  return out + sql.slice(from);
}

/** A value as a PostgreSQL literal; `E''` so that it reads the same whatever `standard_conforming_strings` says. */
export function pgLiteral(value: unknown): string {
  if (value === null || value === undefined) return 'NULL';
  if (typeof value === 'boolean') return value ? 'TRUE' : 'FALSE';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError(`cannot inline the number ${value} as a SQL literal`);
    return String(value);
  }
  if (typeof value === 'string') {
    if (value.includes('\0')) throw new TypeError('cannot inline a string with a NUL character as a SQL literal');
    return `E'${value.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`;
  }
  throw new TypeError(`cannot inline a ${typeof value} as a SQL literal`);
}

/**
 * The statement with its parameters inlined as literals, for the simple query protocol (which
 * takes several statements in one round trip but no parameters). Only for the engine's own
 * statements, whose parameters are strings and numbers.
 */
export function inlinePgParams(sql: string, params: readonly unknown[]): string {
  const text = toPgPlaceholders(sql, params.length);
  const { natives } = scanPgPlaceholders(text);
  let out = '';
  let from = 0;
  for (const native of natives) {
    if (native.n < 1 || native.n > params.length) throw new RangeError(`$${native.n} has no parameter (${params.length} given)`);
    out += text.slice(from, native.at) + pgLiteral(params[native.n - 1]);
    from = native.at + native.length;
  }
  return out + text.slice(from);
}
