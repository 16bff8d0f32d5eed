/**
 * Where a quoted run or a block comment ends in SQL text: the two scans every lexer of ours needs
 * (placeholders in pg-lexer.ts, transaction control in transaction-control.ts), so both read the
 * text the same way. Rules: PostgreSQL sql-syntax-lexical §4.1.2 and §4.1.5, MariaDB/MySQL
 * "String Literals" and "Comment Syntax", SQLite lang_keywords and lang_comment.
 */

/** End (exclusive) of a run quoted by `quote`, the quote doubled as its escape; backslash escapes too when `backslash`. Unterminated: the end of the text. */
export function endOfQuoted(sql: string, start: number, quote: string, backslash: boolean): number {
  let i = start + 1;
  while (i < sql.length) {
    const c = sql[i];
    if (backslash && c === '\\') i += 2;
    else if (c === quote) {
      if (sql[i + 1] === quote) i += 2;
      else return i + 1;
    } else i += 1;
  }
  return sql.length;
}

/** End (exclusive) of a block comment at `start`; nested ones count on PostgreSQL only. Unterminated: the end of the text. */
export function endOfBlockComment(sql: string, start: number, nested: boolean): number {
  if (!nested) {
    const close = sql.indexOf('*/', start + 2);
    return close < 0 ? sql.length : close + 2;
  }
  let depth = 0;
  let i = start;
  while (i < sql.length) {
    if (sql[i] === '/' && sql[i + 1] === '*') {
      depth += 1;
      i += 2;
    } else if (sql[i] === '*' && sql[i + 1] === '/') {
      depth -= 1;
      i += 2;
      if (depth === 0) return i;
    } else {
      i += 1;
    }
  }
  return sql.length;
}
