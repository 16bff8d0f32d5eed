/**
 * Finds the statements that would end or start the store's transaction from inside
 * `store.transaction(fn)`: `COMMIT`, `ROLLBACK`, `BEGIN`, `SET autocommit` … (savepoints, which
 * nest inside it, are allowed) — and,
 * on MariaDB/MySQL, the statements that COMMIT implicitly (DDL, `LOCK TABLES`, …). The store
 * refuses such a statement before it is sent ({@link TransactionControlError}): the transaction
 * is rolled back and reported as not committed, instead of `fn`'s work being committed early (or
 * rolled back, or left half-done) while the store goes on to report its own COMMIT.
 *
 * Why a lexer of our own: the project prefers a maintained library for SQL tokenizing, and the npm
 * candidates were checked (2026-12): `sql-parser-cst` is GPL (this package is Apache-2.0);
 * `node-sql-parser` and `pgsql-ast-parser` are full parsers (several hundred KB, one dialect or
 * failing on syntax they lack, and nothing could be refused then); `dbgate-query-splitter` (MIT)
 * splits `SELECT E'a\'; commit'` inside the `E''` string (a false refusal), splits a SQLite
 * `CREATE TRIGGER … BEGIN …; END` body (its `END` would be refused), does not strip comments from
 * a statement's head and does not know MySQL's executable comments (`/*! … *\/`). What is needed
 * here is small: the first words of each statement, with strings, quoted identifiers and comments
 * skipped as each database reads them. Rules: PostgreSQL sql-syntax-lexical, MariaDB/MySQL
 * "Comment Syntax" and "String Literals", SQLite lang_keywords / lang_comment.
 *
 * Errs on the side of refusing only where the database would read the text in a way the lexer
 * cannot tell (a backslash in a string whose escaping mode is unknown: both readings are checked).
 */
import { TransactionControlError } from '../errors.js';
import { endOfBlockComment, endOfQuoted } from './sql-quoting.js';
import type { Dialect, SqlExecutor } from '../types.js';

/** How backslashes in `'…'` strings read: as escapes, literally, or not known (check both readings). */
export type BackslashMode = 'escape' | 'literal' | 'unknown';

/**
 * A token. `cond`: the MariaDB/MySQL version- or flavour-conditional comment (`/*!50001 … *\/`,
 * `/*M! … *\/`) the token is inside, numbered from 0 — the server runs its text or skips it as a
 * comment, which the lexer cannot tell, so every combination is checked. `other.text`: the
 * punctuation it stands for (a string or quoted identifier is `'`).
 */
type Token = ({ kind: 'word'; upper: string } | { kind: 'semicolon' } | { kind: 'other'; text: string }) & { cond?: number };

/** More conditional comments than this in one text: not every reading can be checked, and it is refused. */
const MAX_CONDITIONAL_COMMENTS = 6;
/** The word standing for a text with more conditional comments than that (two words: no statement's own). */
const TOO_MANY_CONDITIONALS = 'CONDITIONAL COMMENTS';

const IDENT_START = /[A-Za-z_\u0080-\uffff]/;
const IDENT_PART = /[A-Za-z0-9_$\u0080-\uffff]/;

/**
 * End (exclusive) of a line comment, at the line break the database ends it at: PostgreSQL at
 * `\n` or `\r` (scan.l), SQLite and MariaDB/MySQL at `\n` only — ending it earlier than the
 * database does would read the rest of its line as SQL (`-- x\r'` would open a string there and
 * hide the `COMMIT` on the next line).
 */
function endOfLine(dialect: Dialect, sql: string, start: number): number {
  const end = sql.slice(start).search(dialect === 'postgres' ? /[\n\r]/ : /\n/);
  return end < 0 ? sql.length : start + end + 1;
}

/** MariaDB/MySQL: `--` starts a comment only when a space or control character follows (`my_isspace`/`my_iscntrl`: 0x00–0x20 and DEL); `1--1` is arithmetic. */
function mysqlDashComment(sql: string, i: number): boolean {
  if (i + 2 >= sql.length) return true;
  const code = sql.charCodeAt(i + 2);
  return code <= 0x20 || code === 0x7f;
}

/** The tokens of `sql` as `dialect` reads it: words (keywords and bare identifiers), `;`, and anything else as one kind. */
function tokenize(dialect: Dialect, sql: string, backslash: boolean, doubleQuotedBackslash = backslash): Token[] {
  const tokens: Token[] = [];
  // The executable comments open at `i` (innermost last): `cond` is the conditional one's number.
  const executable: { cond: number | undefined }[] = [];
  let conditionals = 0;
  const cond = (): { cond?: number } => {
    for (let k = executable.length - 1; k >= 0; k -= 1) {
      const n = executable[k]?.cond;
      if (n !== undefined) return { cond: n };
    }
    return {};
  };
  const push = (token: Token): void => {
    tokens.push({ ...token, ...cond() });
  };
  const other = (text: string): void => {
    const last = tokens[tokens.length - 1];
    if (last?.kind === 'other' && last.cond === cond().cond) last.text += text;
    else push({ kind: 'other', text });
  };
  let i = 0;
  while (i < sql.length) {
    const c = sql[i] as string;
    const next = sql[i + 1];
    if (/\s/.test(c)) {
      i += 1;
    } else if (c === '-' && next === '-' && (dialect !== 'mysql' || mysqlDashComment(sql, i))) {
      i = endOfLine(dialect, sql, i);
    } else if (c === '#' && dialect === 'mysql') {
      i = endOfLine(dialect, sql, i);
    } else if (c === '*' && next === '/' && executable.length > 0) {
      // The end of an executable comment: no token.
      executable.pop();
      i += 2;
    } else if (c === '/' && next === '*') {
      // MySQL/MariaDB run what is inside `/*! … */` (both) and `/*M! … */` (MariaDB), a version
      // number first making it run only on servers at least that recent: it is read as SQL.
      const opened = dialect === 'mysql' ? /^\/\*(M?)!(\d*)/.exec(sql.slice(i, i + 12)) : null;
      if (opened) {
        const conditional = opened[1] === 'M' || (opened[2] ?? '') !== '';
        executable.push({ cond: conditional ? conditionals++ : undefined });
        i += opened[0].length;
      } else i = endOfBlockComment(sql, i, dialect === 'postgres');
    } else if (c === ';') {
      push({ kind: 'semicolon' });
      i += 1;
    } else if (c === "'") {
      i = endOfQuoted(sql, i, "'", backslash);
      other("'");
    } else if (c === '"') {
      // PostgreSQL and SQLite: a quoted identifier; MySQL: a string escaped like `'…'`, or under
      // ANSI_QUOTES an identifier, where a backslash escapes nothing (both readings are checked).
      i = endOfQuoted(sql, i, '"', dialect === 'mysql' && doubleQuotedBackslash);
      other("'");
    } else if (c === '`' && dialect !== 'postgres') {
      i = endOfQuoted(sql, i, '`', false);
      other("'");
    } else if (c === '[' && dialect === 'sqlite') {
      const close = sql.indexOf(']', i + 1);
      i = close < 0 ? sql.length : close + 1;
      other("'");
    } else if (c === '$' && dialect === 'postgres') {
      const tag = /^\$([A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/.exec(sql.slice(i, i + 200));
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length);
        i = close < 0 ? sql.length : close + tag[0].length;
      } else {
        // `$1`: a parameter.
        i += 1;
        while (i < sql.length && /[0-9]/.test(sql[i] as string)) i += 1;
      }
      other('$');
    } else if (c === '@' && dialect === 'mysql') {
      // `@name` is a user variable (`SET @autocommit = 1` sets no server setting); `@@name` a
      // system variable, whose name is read as a word.
      if (next === '@') i += 2;
      else {
        i += 1;
        while (i < sql.length && IDENT_PART.test(sql[i] as string)) i += 1;
      }
      other('@');
    } else if (IDENT_START.test(c)) {
      let j = i + 1;
      while (j < sql.length && IDENT_PART.test(sql[j] as string)) j += 1;
      const word = sql.slice(i, j);
      if (dialect === 'postgres' && sql[j] === "'" && /^[Ee]$/.test(word)) {
        // E'…': a PostgreSQL escape string, where a backslash escapes the quote.
        i = endOfQuoted(sql, j, "'", true);
        other("'");
      } else if (sql[j] === "'" && /^([NnXxBb]|_\w+)$/.test(word)) {
        // N'…', X'…', B'…', _utf8mb4'…': a literal with a prefix, not a word.
        i = endOfQuoted(sql, j, "'", backslash && !/^[XxBb]$/.test(word));
        other("'");
      } else {
        push({ kind: 'word', upper: word.toUpperCase() });
        i = j;
      }
    } else {
      other(c);
      i += 1;
    }
  }
  if (conditionals > MAX_CONDITIONAL_COMMENTS) return [{ kind: 'word', upper: TOO_MANY_CONDITIONALS }];
  return tokens;
}

/**
 * The statements of the token list, split at `;` — except inside a body that a `CREATE` statement
 * carries unquoted: a SQLite trigger's `BEGIN … END`, a PostgreSQL `BEGIN ATOMIC … END` function
 * body (whose own statements are separated by `;`, and may hold `CASE … END`).
 */
function statements(dialect: Dialect, tokens: readonly Token[]): Token[][] {
  const result: Token[][] = [];
  let current: Token[] = [];
  let depth = 0;
  let parens = 0;
  let trigger = false;
  let routine = false;
  let bodies = 0;
  tokens.forEach((token, index) => {
    if (token.kind === 'semicolon' && depth === 0) {
      if (current.length > 0) result.push(current);
      current = [];
      parens = 0;
      trigger = false;
      routine = false;
      bodies = 0;
      return;
    }
    const previous = current[current.length - 1];
    current.push(token);
    if (token.kind === 'other') {
      for (const ch of token.text) parens += ch === '(' ? 1 : ch === ')' ? -1 : 0;
      return;
    }
    const first = current[0];
    if (token.kind !== 'word' || first?.kind !== 'word' || first.upper !== 'CREATE') return;
    if (current.length <= 4 && token.upper === 'TRIGGER') trigger = true;
    // PostgreSQL: a `BEGIN ATOMIC` body is a CREATE FUNCTION/PROCEDURE's, once, outside parentheses
    // (`CREATE VIEW v AS SELECT begin atomic FROM t` has none: its `;` ends it).
    if (current.length <= 4 && (token.upper === 'FUNCTION' || token.upper === 'PROCEDURE')) routine = true;
    // `AS case`, `t.case`, `AS end`: a label or a column, not the keyword. (Taking a CASE for a
    // label only ends a body early, which refuses more; an END after a `.` may be one: `ELSE 1. END`.)
    const afterAs = previous?.kind === 'word' && previous.upper === 'AS';
    const label = afterAs || (previous?.kind === 'other' && previous.text.endsWith('.'));
    const following = tokens[index + 1];
    const opensBody =
      token.upper === 'BEGIN' &&
      depth === 0 &&
      bodies === 0 &&
      !label &&
      ((dialect === 'sqlite' && trigger) || (dialect === 'postgres' && routine && parens === 0 && following?.kind === 'word' && following.upper === 'ATOMIC'));
    if (opensBody) {
      bodies += 1;
      depth += 1;
    } else if (depth > 0 && !label && token.upper === 'CASE') depth += 1;
    else if (depth > 0 && !afterAs && token.upper === 'END') depth -= 1;
  });
  if (current.length > 0) result.push(current);
  return result;
}

/** Statements that end or start a transaction on every database (`END` and `ABORT` are PostgreSQL's and SQLite's, and no statement elsewhere); savepoints are let through below. */
const CONTROL: ReadonlySet<string> = new Set(['BEGIN', 'START', 'COMMIT', 'END', 'ROLLBACK', 'ABORT', 'SAVEPOINT', 'RELEASE']);
/**
 * MariaDB/MySQL statements that COMMIT the open transaction implicitly before they run
 * (MySQL 8.0 manual 15.3.3, MariaDB "SQL statements that cause an implicit commit"): DDL, user
 * and privilege changes, `LOCK`/`UNLOCK TABLES`, administration and replication statements.
 */
const IMPLICIT_COMMIT: ReadonlySet<string> = new Set([
  'CREATE',
  'ALTER',
  'DROP',
  'TRUNCATE',
  'RENAME',
  'LOCK',
  'UNLOCK',
  'GRANT',
  'REVOKE',
  'ANALYZE',
  'CHECK',
  'OPTIMIZE',
  'REPAIR',
  'CACHE',
  'FLUSH',
  'RESET',
  'INSTALL',
  'UNINSTALL',
  'CHANGE',
  'STOP',
  // MariaDB's BACKUP LOCK / BACKUP STAGE (both commit: verified on 10.11); MySQL's IMPORT TABLE, CLONE.
  'BACKUP',
  'IMPORT',
  'CLONE',
  'SHUTDOWN',
]);

const word = (token: Token | undefined): string | undefined => (token?.kind === 'word' ? token.upper : undefined);

/** MariaDB/MySQL settings that change how the session's text is sent or read (`SET NAMES`, `SET CHARACTER SET` set them all). */
const MYSQL_CHARSET_WORDS: ReadonlySet<string> = new Set(['NAMES', 'CHARSET', 'CHARACTER_SET_CLIENT', 'CHARACTER_SET_CONNECTION', 'CHARACTER_SET_RESULTS', 'COLLATION_CONNECTION']);
/** PostgreSQL: `SET [SESSION | LOCAL] client_encoding` and its alias `SET NAMES`. */
const POSTGRES_CHARSET_WORDS: ReadonlySet<string> = new Set(['NAMES', 'CLIENT_ENCODING']);

/**
 * Whether a SET statement changes the session's character set (any of its assignments). On
 * MariaDB/MySQL a value that is a utf8mb4 name written as a word (`SET NAMES utf8mb4`, as dump
 * files begin, `collation_connection = utf8mb4_bin`) changes nothing the store relies on.
 */
function setsCharset(dialect: Dialect, statement: readonly Token[]): boolean {
  const words = dialect === 'mysql' ? MYSQL_CHARSET_WORDS : POSTGRES_CHARSET_WORDS;
  return statement.some((token, i) => {
    const w = word(token);
    if (w === undefined) return false;
    let at: number;
    if (words.has(w)) at = i + 1;
    else if (dialect === 'mysql' && w === 'CHARACTER' && word(statement[i + 1]) === 'SET') at = i + 2;
    else return false;
    if (dialect !== 'mysql') return true;
    // The value: the next token, after an `=` (`SET character_set_client = utf8mb4`).
    let value = statement[at];
    if (value !== undefined && value.kind !== 'word') value = statement[at + 1];
    return !(word(value)?.startsWith('UTF8MB4') ?? false);
  });
}

/** The keyword(s) naming the statement if it is refused, else `undefined`. Only fixed keywords: never text of the statement's own. */
function refusedKeyword(dialect: Dialect, statement: readonly Token[], implicitCommits: boolean): string | undefined {
  const first = word(statement[0]);
  if (first === undefined) return undefined;
  const second = word(statement[1]);
  if (first === 'SET') {
    // MariaDB's `SET STATEMENT var = value FOR <statement>`: the statement is what runs.
    if (dialect === 'mysql' && second === 'STATEMENT') {
      const at = statement.findIndex((token) => word(token) === 'FOR');
      if (at > 0) {
        const inner = refusedKeyword(dialect, statement.slice(at + 1), implicitCommits);
        if (inner !== undefined) return inner;
      }
    }
    if (statement.some((token) => word(token) === 'AUTOCOMMIT')) return 'SET autocommit';
    // The session's character set is the store's: keys and payloads travel in it (utf8mb4 /
    // UTF8, checked by the store). A handler's `SET NAMES latin1` stayed on MariaDB's pooled
    // connection, and every later transaction on it stored 'pay-😀' as 'pay-=\0'; PostgreSQL's
    // `SET client_encoding` made fn's next statements store each UTF-8 byte as a character.
    if (dialect !== 'sqlite' && setsCharset(dialect, statement)) return 'SET character set';
    if (dialect === 'mysql' && statement.some((token) => word(token) === 'COMPLETION_TYPE')) return 'SET completion_type';
    if (dialect === 'mysql' && second === 'PASSWORD') return 'SET PASSWORD';
    // `SET DEFAULT ROLE` changes the grant tables: it commits implicitly, like GRANT (verified on MariaDB 10.11).
    if (dialect === 'mysql' && implicitCommits && second === 'DEFAULT' && word(statement[2]) === 'ROLE') return 'SET DEFAULT ROLE (implicit commit)';
    return undefined;
  }
  if (first === 'PREPARE' && second === 'TRANSACTION' && dialect === 'postgres') return 'PREPARE TRANSACTION';
  // MySQL's XA transactions: XA START cannot run inside a transaction, XA END/COMMIT… end one.
  if (first === 'XA' && dialect === 'mysql') return 'XA';
  if (CONTROL.has(first)) {
    if (first === 'START') return second === 'TRANSACTION' ? 'START TRANSACTION' : 'START';
    // Savepoints nest INSIDE the store's transaction and cannot end it (PostgreSQL SAVEPOINT,
    // MySQL 15.3.4, SQLite lang_savepoint: inside BEGIN, RELEASE commits nothing): the way a
    // handler recovers from a statement it expects may fail, which on PostgreSQL otherwise
    // aborts the whole transaction. `ROLLBACK [WORK | TRANSACTION] TO [SAVEPOINT] x` likewise.
    if (first === 'SAVEPOINT' || first === 'RELEASE') return undefined;
    if (first === 'ROLLBACK') {
      const next = second === 'WORK' || second === 'TRANSACTION' ? word(statement[2]) : second;
      if (next === 'TO') return undefined;
    }
    if (first === 'COMMIT' && second === 'PREPARED') return 'COMMIT PREPARED';
    if (first === 'ROLLBACK' && second === 'PREPARED') return 'ROLLBACK PREPARED';
    return first;
  }
  if (dialect !== 'mysql' || !implicitCommits) return undefined;
  if (first === 'LOAD') return second === 'INDEX' ? 'LOAD INDEX' : undefined;
  if (!IMPLICIT_COMMIT.has(first)) return undefined;
  // `CREATE [OR REPLACE] TEMPORARY TABLE` and `DROP TEMPORARY TABLE` do not commit — TEMPORARY in
  // that place only: `CREATE TABLE temporary (…)` is a table named so, and commits.
  const temporaryAt = first === 'CREATE' && second === 'OR' && word(statement[2]) === 'REPLACE' ? 3 : 1;
  if ((first === 'CREATE' || first === 'DROP') && word(statement[temporaryAt]) === 'TEMPORARY') return undefined;
  return `${first} (implicit commit)`;
}

/**
 * The keyword of the first statement in `sql` that would end, start or nest the transaction (on
 * MariaDB/MySQL also one that commits implicitly), or `undefined` when there is none. Keywords
 * inside strings, quoted identifiers, dollar-quoted bodies and comments do not count. Never throws.
 *
 * @param backslashes - how `'…'` strings read backslashes: PostgreSQL `standard_conforming_strings`
 * (on: `'literal'`), MariaDB/MySQL `NO_BACKSLASH_ESCAPES` (off: `'escape'`); `'unknown'` checks both.
 * @param implicitCommits - MariaDB/MySQL: also find the statements that COMMIT implicitly (DDL,
 * `LOCK TABLES`, …). Not for `store.transaction` itself, whose callers (the schema set-up among
 * them) create tables in it; the node refuses them in its handlers' transactions.
 */
export function transactionControlKeyword(dialect: Dialect, sql: string, backslashes: BackslashMode, implicitCommits = false): string | undefined {
  const backslashReadings = dialect === 'sqlite' ? [false] : backslashes === 'unknown' ? [true, false] : [backslashes === 'escape'];
  // MariaDB/MySQL read `"…"` as a string (backslashes escape as in `'…'`) or, under the session's
  // ANSI_QUOTES (not known here), as an identifier (they escape nothing): `SELECT 1 AS "a\"; COMMIT`.
  const readings = backslashReadings.flatMap((backslash) => (dialect === 'mysql' && backslash ? [[true, true], [true, false]] : [[backslash, backslash]]));
  for (const [backslash = false, doubleQuoted = false] of readings) {
    const tokens = tokenize(dialect, sql, backslash, doubleQuoted);
    if (tokens[0]?.kind === 'word' && tokens[0].upper === TOO_MANY_CONDITIONALS) return `more than ${MAX_CONDITIONAL_COMMENTS} conditional comments`;
    // Each conditional comment run or skipped: every combination (at most 2^6).
    const conditionals = tokens.reduce((n, token) => Math.max(n, token.cond === undefined ? 0 : token.cond + 1), 0);
    for (let runs = 0; runs < 2 ** conditionals; runs += 1) {
      const read = tokens.filter((token) => token.cond === undefined || (runs & (1 << token.cond)) !== 0);
      for (const statement of statements(dialect, read)) {
        const keyword = refusedKeyword(dialect, statement, implicitCommits);
        if (keyword !== undefined) return keyword;
      }
    }
  }
  return undefined;
}

/**
 * A statement that may change how the session reads backslashes in strings: later statements are
 * checked under both readings. Naming the setting, or not naming it: PostgreSQL's
 * `set_config('standard_' || 'conforming_strings', 'off', true)` (whose name is built at run
 * time: the COMMIT after `SELECT 'a\''` then ran, unrefused) and `RESET ALL` (back to the default).
 */
const ESCAPE_SETTING = /sql_mode|standard_conforming_strings|set_config|\breset\s+all\b/i;

/**
 * `fn` with a transaction handle that checks every statement before it is sent: one that would
 * end, start or nest the transaction is refused with {@link TransactionControlError} (not sent),
 * every later one too, and the returned function rejects with that error whatever `fn` does
 * with it — so the store rolls back and reports nothing committed.
 *
 * @param store - The store's name, for the error's message (`postgresStore`).
 * @param backslashes - How the session reads backslashes in `'…'` strings when the transaction
 * began (see {@link transactionControlKeyword}); once `fn` sends a statement naming `sql_mode` or
 * `standard_conforming_strings`, both readings are checked from it on.
 */
export function refusingTransactionControl<T>(store: string, fn: (tx: SqlExecutor) => Promise<T>, backslashes: () => BackslashMode): (tx: SqlExecutor) => Promise<T> {
  return async (tx) => {
    let refused: TransactionControlError | undefined;
    let modeChanged = false;
    const check = (sql: string): void => {
      if (refused) throw refused;
      // Not a string: the driver refuses it, no keyword to look for.
      if (typeof sql !== 'string') return;
      if (ESCAPE_SETTING.test(sql)) modeChanged = true;
      const keyword = transactionControlKeyword(tx.dialect, sql, modeChanged ? 'unknown' : backslashes());
      if (keyword !== undefined) {
        refused = new TransactionControlError(store, keyword);
        throw refused;
      }
    };
    const guarded: SqlExecutor = {
      dialect: tx.dialect,
      query<R extends Record<string, unknown> = Record<string, unknown>>(sql: string, params?: readonly unknown[]): Promise<R[]> {
        try {
          check(sql);
        } catch (error) {
          return Promise.reject(error);
        }
        return tx.query<R>(sql, params);
      },
      execute(sql: string, params?: readonly unknown[]): Promise<{ changes: number }> {
        try {
          check(sql);
        } catch (error) {
          return Promise.reject(error);
        }
        return tx.execute(sql, params);
      },
    };
    let result: T;
    try {
      result = await fn(guarded);
    } catch (error) {
      throw refused ?? error;
    }
    if (refused) throw refused;
    return result;
  };
}
