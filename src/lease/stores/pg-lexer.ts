/**
 * A small lexer for PostgreSQL's SQL, just enough to find parameter placeholders: it skips what
 * can contain a `?` or `$1` that is not one — standard and `E''` strings, quoted identifiers,
 * dollar-quoted strings (`$tag$…$tag$`), line and nested block comments — and tells a
 * placeholder `?` from the `?` inside operators (`?|`, `?&`, `?#`, `?-`, `?-|`, `?||`, `@?`, `??`).
 * Rules from https://www.postgresql.org/docs/current/sql-syntax-lexical.html.
 */

import { endOfBlockComment, endOfQuoted } from './sql-quoting.js';

/** Where the placeholders are: `?` ones and native `$n` ones (offsets into the text). */
export interface PgPlaceholders {
  /** Offsets of `?` placeholders, in order. */
  readonly questionMarks: readonly number[];
  /** Native `$n` placeholders: offset, length, and n. */
  readonly natives: readonly { readonly at: number; readonly length: number; readonly n: number }[];
}

const OPERATOR = new Set('+-*/<>=~!@#%^&|`?');
/** A `?` followed by one of these is part of an operator (`?|`, `?&`, `?#`, `?-`). */
const OPERATOR_AFTER_QUESTION = new Set('|&#-?');

function isIdentStart(c: string): boolean {
  return /[A-Za-z_\u0080-\uffff]/.test(c);
}

function isIdentPart(c: string): boolean {
  return /[A-Za-z0-9_$\u0080-\uffff]/.test(c);
}

/** Finds the placeholders of `sql`. Never throws: an unterminated string or comment runs to the end. */
export function scanPgPlaceholders(sql: string): PgPlaceholders {
  const questionMarks: number[] = [];
  const natives: { at: number; length: number; n: number }[] = [];
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (c === '-' && next === '-') {
      // PostgreSQL's scanner ends a line comment at \n OR \r (scan.l: `newline [\n\r]`).
      const end = sql.slice(i).search(/[\n\r]/);
      i = end < 0 ? sql.length : i + end + 1;
    } else if (c === '/' && next === '*') {
      i = endOfBlockComment(sql, i, true);
    } else if (c === "'") {
      i = endOfQuoted(sql, i, "'", false);
    } else if (c === '"') {
      i = endOfQuoted(sql, i, '"', false);
    } else if (c === '$') {
      const digits = /^\$(\d+)/.exec(sql.slice(i, i + 12));
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 200));
      if (digits) {
        natives.push({ at: i, length: digits[0].length, n: Number(digits[1]) });
        i += digits[0].length;
      } else if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? sql.length : close + tag[0].length;
      } else {
        i += 1;
      }
    } else if (isIdentStart(c)) {
      let j = i + 1;
      while (j < sql.length && isIdentPart(sql[j] as string)) j += 1;
      // E'…' is an escape string: a backslash escapes the quote.
      if (j === i + 1 && (c === 'E' || c === 'e') && sql[j] === "'") j = endOfQuoted(sql, j, "'", true);
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < sql.length && /[0-9A-Za-z_.]/.test(sql[j] as string)) j += 1;
      i = j;
    } else if (OPERATOR.has(c)) {
      // One operator token: a run of operator characters, cut where a comment starts.
      let j = i;
      while (j < sql.length && OPERATOR.has(sql[j] as string) && !(sql[j] === '-' && sql[j + 1] === '-') && !(sql[j] === '/' && sql[j + 1] === '*')) j += 1;
      for (let k = i; k < j; k += 1) {
        if (sql[k] !== '?') continue;
        const before = k > i ? sql[k - 1] : undefined;
        const after = k + 1 < j ? sql[k + 1] : undefined;
        const inOperator = before === '@' || before === '?' || (after !== undefined && OPERATOR_AFTER_QUESTION.has(after));
        if (!inOperator) questionMarks.push(k);
      }
      i = j;
    } else {
      i += 1;
    }
  }
  return { questionMarks, natives };
}
