/**
 * The check the stores run on every statement `fn` sends through `store.transaction(fn)`'s handle:
 * a statement that ends, starts or nests the transaction is found however it is written
 * (case, leading comments, after other statements, MySQL's executable comments), and a keyword
 * that only appears inside a string, a quoted identifier, a dollar-quoted body or a comment is
 * never taken for one (property-tested). The real databases: transaction-control.test.ts.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Dialect } from '../../src/lease/types.js';
import { transactionControlKeyword, type BackslashMode } from '../../src/lease/stores/transaction-control.js';

const DIALECTS: readonly Dialect[] = ['postgres', 'mysql', 'sqlite'];
const defaultMode = (dialect: Dialect): BackslashMode => (dialect === 'mysql' ? 'escape' : 'literal');
const find = (dialect: Dialect, sql: string, mode: BackslashMode = defaultMode(dialect), implicitCommits = false) =>
  transactionControlKeyword(dialect, sql, mode, implicitCommits);

describe('statements that end, start or nest the transaction are found', () => {
  const everywhere: [string, string][] = [
    ['COMMIT', 'COMMIT'],
    ['commit', 'COMMIT'],
    ['Commit Work', 'COMMIT'],
    ['ROLLBACK', 'ROLLBACK'],
    ['rollback', 'ROLLBACK'],
    ['BEGIN', 'BEGIN'],
    ['begin immediate', 'BEGIN'],
    ['START TRANSACTION', 'START TRANSACTION'],
    ['start transaction read write', 'START TRANSACTION'],
    ['ROLLBACK WORK', 'ROLLBACK'],
    ['ROLLBACK AND CHAIN', 'ROLLBACK'],
    ['END', 'END'],
    ['ABORT', 'ABORT'],
    ['SET autocommit=1', 'SET autocommit'],
    ['set AUTOCOMMIT = 1', 'SET autocommit'],
    ['/* */ COMMIT', 'COMMIT'],
    ['/* a; b */ COMMIT', 'COMMIT'],
    ['-- x\nCOMMIT', 'COMMIT'],
    ['-- x\r\nCOMMIT', 'COMMIT'],
    ['SELECT 1; COMMIT', 'COMMIT'],
    ['SELECT 1;COMMIT;', 'COMMIT'],
    ["SELECT 'x'; /* y */ -- z\n rollback", 'ROLLBACK'],
    ['  \n\tCOMMIT  ', 'COMMIT'],
    ['COMMIT;', 'COMMIT'],
  ];
  for (const dialect of DIALECTS) {
    it(`${dialect}: every spelling`, () => {
      for (const [sql, keyword] of everywhere) expect([sql, find(dialect, sql)]).toEqual([sql, keyword]);
    });
  }

  it('postgres: two-phase commit, nested comments', () => {
    expect(find('postgres', "PREPARE TRANSACTION 'x'")).toBe('PREPARE TRANSACTION');
    expect(find('postgres', "COMMIT PREPARED 'x'")).toBe('COMMIT PREPARED');
    expect(find('postgres', '/* a /* nested */ still a comment */ COMMIT')).toBe('COMMIT');
    expect(find('postgres', 'PREPARE q AS SELECT 1')).toBeUndefined();
  });

  it('mysql: executable comments, # comments, SET forms, XA', () => {
    expect(find('mysql', '/*!COMMIT*/')).toBe('COMMIT');
    expect(find('mysql', '/*!50001 COMMIT */')).toBe('COMMIT');
    expect(find('mysql', '/*M!100100 ROLLBACK */')).toBe('ROLLBACK');
    expect(find('mysql', 'SELECT 1 # x\n; COMMIT')).toBe('COMMIT');
    expect(find('mysql', 'SET @@autocommit = 1')).toBe('SET autocommit');
    expect(find('mysql', 'SET @@session.autocommit = 1')).toBe('SET autocommit');
    expect(find('mysql', 'SET SESSION autocommit = ON')).toBe('SET autocommit');
    expect(find('mysql', 'SET sql_mode = DEFAULT, autocommit = 1')).toBe('SET autocommit');
    expect(find('mysql', 'SET STATEMENT max_statement_time = 1 FOR COMMIT')).toBe('COMMIT');
    expect(find('mysql', 'SET completion_type = 2')).toBe('SET completion_type');
    expect(find('mysql', "XA START 'x'")).toBe('XA');
    // A user variable is no server setting.
    expect(find('mysql', 'SET @autocommit = 1')).toBeUndefined();
    // `--` needs a space after it on MySQL: `1--1` is arithmetic, and what follows is read.
    expect(find('mysql', 'SELECT 1--1; COMMIT')).toBe('COMMIT');
  });

  it('mysql: statements that commit implicitly, when asked for (the node asks, the store does not)', () => {
    for (const [sql, keyword] of [
      ['CREATE TABLE t (a INT)', 'CREATE (implicit commit)'],
      ['create index i on t (a)', 'CREATE (implicit commit)'],
      ['ALTER TABLE t ADD b INT', 'ALTER (implicit commit)'],
      ['DROP TABLE t', 'DROP (implicit commit)'],
      ['TRUNCATE t', 'TRUNCATE (implicit commit)'],
      ['RENAME TABLE a TO b', 'RENAME (implicit commit)'],
      ['LOCK TABLES t WRITE', 'LOCK (implicit commit)'],
      ['UNLOCK TABLES', 'UNLOCK (implicit commit)'],
      ['GRANT SELECT ON t TO u', 'GRANT (implicit commit)'],
      ['SELECT 1; /* x */ drop table t', 'DROP (implicit commit)'],
      ['LOAD INDEX INTO CACHE t', 'LOAD INDEX'],
    ] as const) {
      expect([sql, find('mysql', sql, 'escape', true)]).toEqual([sql, keyword]);
      expect([sql, find('mysql', sql, 'escape', false)]).toEqual([sql, undefined]);
    }
    expect(find('mysql', 'CREATE TEMPORARY TABLE t (a INT)', 'escape', true)).toBeUndefined();
    expect(find('mysql', 'CREATE OR REPLACE TEMPORARY TABLE t (a INT)', 'escape', true)).toBeUndefined();
    expect(find('mysql', 'DROP TEMPORARY TABLE t', 'escape', true)).toBeUndefined();
    expect(find('mysql', "LOAD DATA INFILE 'f' INTO TABLE t", 'escape', true)).toBeUndefined();
    // DDL is transactional on PostgreSQL and SQLite.
    expect(find('postgres', 'CREATE TABLE t (a INT)', 'literal', true)).toBeUndefined();
    expect(find('sqlite', 'DROP TABLE t', 'literal', true)).toBeUndefined();
  });
});

describe('legitimate SQL is not refused', () => {
  const legit: [Dialect[], string][] = [
    [['postgres', 'mysql', 'sqlite'], "SELECT 'COMMIT'"],
    [['postgres', 'mysql', 'sqlite'], "INSERT INTO t (a) VALUES ('x; COMMIT; y')"],
    [['postgres', 'mysql', 'sqlite'], "SELECT 'it''s; commit'"],
    [['postgres', 'sqlite'], 'SELECT "commit" FROM t'],
    [['postgres', 'sqlite'], 'UPDATE t SET "begin" = 1, "end" = 2'],
    [['mysql', 'sqlite'], 'SELECT `commit` FROM t'],
    [['mysql', 'sqlite'], 'SELECT `a;commit` FROM t'],
    [['sqlite'], 'SELECT [commit] FROM t'],
    [['postgres', 'mysql', 'sqlite'], 'SELECT 1 /* ; COMMIT */'],
    [['postgres', 'mysql', 'sqlite'], 'SELECT 1 -- ; COMMIT'],
    [['postgres', 'mysql', 'sqlite'], 'SELECT 1 /* ; COMMIT */ -- ; ROLLBACK\n, 2'],
    [['postgres', 'mysql', 'sqlite'], 'SELECT commit_id, rollback_count, begin_at FROM t'],
    [['postgres', 'mysql', 'sqlite'], 'SELECT * FROM t WHERE status = ? AND note <> ?'],
    [['postgres', 'mysql', 'sqlite'], 'UPDATE t SET x = CASE WHEN a THEN 1 ELSE 2 END'],
    // Savepoints nest inside the store's transaction and cannot end it.
    [['postgres', 'mysql', 'sqlite'], 'SAVEPOINT s'],
    [['postgres', 'mysql', 'sqlite'], 'release savepoint s'],
    [['postgres', 'sqlite'], 'RELEASE s'],
    [['postgres', 'mysql', 'sqlite'], 'ROLLBACK TO SAVEPOINT s'],
    [['postgres', 'mysql', 'sqlite'], 'rollback to s'],
    [['postgres', 'mysql'], 'ROLLBACK WORK TO SAVEPOINT s'],
    [['postgres', 'sqlite'], 'ROLLBACK TRANSACTION TO SAVEPOINT s'],
    [['postgres'], 'SELECT $$ a; COMMIT $$'],
    [['postgres'], 'SELECT $body$ x $$ ; COMMIT $$ y $body$'],
    [['postgres'], "SELECT E'a\\'; commit'"],
    [['postgres'], "SELECT e'\\\\'; SELECT 'commit'"],
    [['postgres'], 'DO $$ BEGIN PERFORM 1; END $$'],
    [['postgres'], "DO $do$ BEGIN IF true THEN RAISE NOTICE 'x'; END IF; END $do$"],
    [['postgres'], "DO 'BEGIN PERFORM 1; END'"],
    [['postgres'], 'CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 1; END $$'],
    [['postgres'], 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; SELECT CASE WHEN true THEN 1 END; END'],
    [['postgres'], 'SELECT 1 /* outer /* inner */ ; COMMIT */'],
    [['postgres'], 'SELECT a$commit FROM t'],
    [['postgres'], 'SET LOCAL statement_timeout = 1000'],
    [['postgres'], 'LOCK TABLE t IN SHARE MODE'],
    [['postgres'], "SELECT U&'d\\0061t\\+000061; commit'"],
    [['mysql'], "SELECT 'a\\'; COMMIT'"],
    [['mysql'], 'SELECT "a; COMMIT"'],
    [['mysql'], "SELECT _utf8mb4'x; commit'"],
    [['mysql'], 'SELECT 1 # ; COMMIT'],
    [['mysql'], 'SET SESSION innodb_lock_wait_timeout = 5, max_statement_time = 1'],
    [['mysql'], 'SET STATEMENT max_statement_time = 1 FOR SELECT 1'],
    [['mysql'], 'SELECT * FROM t LOCK IN SHARE MODE'],
    [['sqlite'], 'CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u VALUES (1); UPDATE u SET a = CASE WHEN 1 THEN 2 END; END'],
    [['sqlite'], 'CREATE TEMP TRIGGER IF NOT EXISTS tr BEFORE DELETE ON t WHEN old.a > 0 BEGIN SELECT RAISE(ABORT, \'no; commit\'); END;'],
  ];
  for (const [dialects, sql] of legit) {
    for (const dialect of dialects) {
      it(`${dialect}: ${sql.replace(/\s+/g, ' ')}`, () => expect(find(dialect, sql, defaultMode(dialect), true)).toBeUndefined());
    }
  }

  it('what follows a trigger body is checked', () => {
    expect(find('sqlite', 'CREATE TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; COMMIT')).toBe('COMMIT');
    expect(find('postgres', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; END; COMMIT')).toBe('COMMIT');
  });

  it('a backslash the session may read either way: both readings are checked', () => {
    // NO_BACKSLASH_ESCAPES: the string ends at the backslash and COMMIT is a statement.
    expect(find('mysql', "SELECT 'a\\'; COMMIT; -- '", 'literal')).toBe('COMMIT');
    expect(find('mysql', "SELECT 'a\\'; COMMIT; -- '", 'escape')).toBeUndefined();
    expect(find('mysql', "SELECT 'a\\'; COMMIT; -- '", 'unknown')).toBe('COMMIT');
    // standard_conforming_strings = off: a backslash escapes the quote.
    expect(find('postgres', "SELECT 'a\\'; COMMIT; -- '", 'literal')).toBe('COMMIT');
    expect(find('postgres', "SELECT 'a\\'; COMMIT; -- '", 'escape')).toBeUndefined();
    expect(find('postgres', "SELECT 'a\\'; COMMIT; -- '", 'unknown')).toBe('COMMIT');
  });
});

/** Text for inside a literal: SQL-ish words, keywords, quotes, separators, comment marks, backslashes. */
const inner = fc
  .array(
    fc.oneof(
      fc.constantFrom('COMMIT', 'commit', 'ROLLBACK', 'BEGIN', 'END', 'ABORT', 'START TRANSACTION', 'SET autocommit=1', 'CREATE TABLE x', 'DROP TABLE x', 'LOCK TABLES'),
      fc.constantFrom(';', "'", '"', '`', '$', '$$', '$x$', '\\', '\\\\', '--', '#', '/*', '*/', '/*!', '[', ']', '\n', '\r', ' ', 'E', 'e'),
      fc.string({ maxLength: 4 }),
    ),
    { maxLength: 12 },
  )
  .map((parts) => parts.join(''));

type Piece = (dialect: Dialect, mode: BackslashMode) => fc.Arbitrary<string>;

/** A comment holding `text`, as `dialect` reads one. */
function comments(dialect: Dialect, text: string): string[] {
  const options: string[] = [];
  // Block comments: no closing mark inside (PostgreSQL nests them: no opening one either);
  // MySQL runs `/*! … */` and `/*M! … */`, which are no comments.
  let blockBody = text;
  while (/\*\/|\/\*/.test(blockBody)) blockBody = blockBody.replaceAll('*/', '* /').replaceAll('/*', '/ *');
  if (!(dialect === 'mysql' && /^M?!/.test(blockBody))) options.push(`/*${blockBody} */`);
  // Line comments: to the end of the line (MySQL's `--` needs a space after it).
  const line = text.replace(/[\r\n]/g, ' ');
  options.push(`-- ${line}\n`);
  if (dialect === 'mysql') options.push(`#${line}\n`);
  return options;
}

const comment: Piece = (dialect) => inner.chain((text) => fc.constantFrom(...comments(dialect, text)));

/** A literal or comment holding `text`, written as `dialect` reads it under `mode`. */
const wrapped: Piece = (dialect, mode) =>
  inner.chain((text) => {
    const options: fc.Arbitrary<string>[] = [];
    // 'single quoted', the quote doubled; with backslash escapes a backslash is doubled too.
    const single = (t: string, backslash: boolean) => `'${(backslash ? t.replaceAll('\\', '\\\\') : t).replaceAll("'", "''")}'`;
    options.push(fc.constant(single(text, mode === 'escape' && dialect !== 'sqlite')));
    if (dialect === 'postgres') {
      options.push(fc.constant(`"${text.replaceAll('"', '""')}"`));
      options.push(fc.constant(`E${single(text, true)}`));
      // A dollar tag the text does not contain.
      let tag = 'q';
      while (text.includes(`$${tag}$`)) tag += 'q';
      options.push(fc.constant(`$${tag}$${text}$${tag}$`));
      if (!text.includes('$$') && !text.endsWith('$')) options.push(fc.constant(`$$${text}$$`));
    }
    if (dialect === 'mysql') {
      options.push(fc.constant(`"${(mode === 'escape' ? text.replaceAll('\\', '\\\\') : text).replaceAll('"', '""')}"`));
      options.push(fc.constant(`\`${text.replaceAll('`', '``')}\``));
      options.push(fc.constant(`_utf8mb4${single(text, mode === 'escape')}`));
    }
    if (dialect === 'sqlite') {
      options.push(fc.constant(`"${text.replaceAll('"', '""')}"`));
      options.push(fc.constant(`\`${text.replaceAll('`', '``')}\``));
      if (!text.includes(']')) options.push(fc.constant(`[${text}]`));
    }
    for (const commented of comments(dialect, text)) options.push(fc.constant(commented));
    return fc.oneof(...options);
  });

/** Statements whose words are all harmless; every keyword is inside a literal or a comment. */
const harmless: Piece = (dialect, mode) =>
  fc
    .tuple(
      fc.array(wrapped(dialect, mode), { maxLength: 2 }),
      fc.constantFrom('SELECT', 'INSERT INTO t (a) VALUES (', 'UPDATE t SET a =', 'DELETE FROM t WHERE a =', 'WITH c AS (SELECT 1) SELECT'),
      fc.array(wrapped(dialect, mode), { minLength: 1, maxLength: 4 }),
    )
    .map(([lead, head, values]) => `${lead.join(' ')} ${head} ${values.join(', ')}${head.endsWith('(') ? ')' : ''}`);

const script: Piece = (dialect, mode) =>
  fc.array(harmless(dialect, mode), { minLength: 1, maxLength: 3 }).map((statements) => statements.join(';\n'));

describe('property: keywords only inside quotes and comments are never refused', () => {
  const cases: [Dialect, BackslashMode][] = [
    ['postgres', 'literal'],
    ['postgres', 'escape'],
    ['mysql', 'escape'],
    ['mysql', 'literal'],
    ['sqlite', 'literal'],
  ];
  for (const [dialect, mode] of cases) {
    it(`${dialect}, backslashes ${mode}`, () => {
      fc.assert(
        fc.property(script(dialect, mode), (sql) => {
          expect(find(dialect, sql, mode, true)).toBeUndefined();
        }),
        { numRuns: 400 },
      );
    });
  }

  it('and the same text followed by a real COMMIT is refused', () => {
    for (const [dialect, mode] of cases) {
      fc.assert(
        fc.property(script(dialect, mode), fc.array(comment(dialect, mode), { maxLength: 2 }), fc.constantFrom('COMMIT', 'rollback', 'Begin', 'rollback work'), (sql, lead, control) => {
          // A line comment ends with its line: the keyword comes after it.
          expect(find(dialect, `${sql};\n${lead.join(' ')} ${control}`, mode)).toBeDefined();
        }),
        { numRuns: 200 },
      );
    }
  });
});

describe('the text is read where the database reads it (each of these committed on the real database, unrefused)', () => {
  it('a line comment ends where the database ends it: \\r ends one on PostgreSQL only', () => {
    // Read to \r, the `'` after it opened a string that hid the COMMIT on the next line.
    expect(find('sqlite', "-- x\r'\nCOMMIT")).toBe('COMMIT');
    expect(find('mysql', "-- x\r'\nCOMMIT")).toBe('COMMIT');
    expect(find('mysql', "# x\r'\nCOMMIT")).toBe('COMMIT');
    expect(find('postgres', "-- x\r'\nCOMMIT")).toBeUndefined();
    expect(find('postgres', "-- x\rCOMMIT")).toBe('COMMIT');
  });

  it('mysql: `--` followed by DEL (a control character) is a comment', () => {
    expect(find('mysql', "--\x7f'\nCOMMIT")).toBe('COMMIT');
    expect(find('mysql', 'SELECT 1--1')).toBeUndefined();
  });

  it('mysql: the closing */ of an executable comment is no statement; a conditional one may be skipped by the server', () => {
    expect(find('mysql', '/*!*/ COMMIT')).toBe('COMMIT');
    expect(find('mysql', '/*!50000 */COMMIT')).toBe('COMMIT');
    expect(find('mysql', '/*!99999 x*/ COMMIT')).toBe('COMMIT');
    expect(find('mysql', '/*M!999999 x*/ COMMIT')).toBe('COMMIT');
    expect(find('mysql', '/*M! x */ ROLLBACK')).toBe('ROLLBACK');
    expect(find('mysql', 'ROLLBACK /*M!999999 TO x */')).toBe('ROLLBACK');
    expect(find('mysql', 'SELECT 1 /*!50000 ; */ /*!99999 x */ COMMIT', 'escape', false)).toBe('COMMIT');
    // Too many to read every way: refused.
    expect(find('mysql', `SELECT 1 ${'/*!50000 */ '.repeat(7)}`)).toBe('more than 6 conditional comments');
    // Still allowed: what no reading ends.
    expect(find('mysql', '/*!40101 SET NAMES utf8mb4 */')).toBeUndefined();
    expect(find('mysql', 'ROLLBACK /*!50000 */ TO x')).toBeUndefined();
    expect(find('mysql', 'SELECT /*+ MAX_EXECUTION_TIME(1) */ 1 /*!50000 , 2 */')).toBeUndefined();
  });

  it('mysql: TEMPORARY only in its place spares CREATE/DROP', () => {
    expect(find('mysql', 'CREATE TABLE temporary (x INT)', 'escape', true)).toBe('CREATE (implicit commit)');
    expect(find('mysql', 'DROP VIEW temporary', 'escape', true)).toBe('DROP (implicit commit)');
    expect(find('mysql', 'DROP TABLE IF EXISTS x, temporary', 'escape', true)).toBe('DROP (implicit commit)');
    expect(find('mysql', 'CREATE TEMPORARY TABLE x (a INT)', 'escape', true)).toBeUndefined();
    expect(find('mysql', 'CREATE OR REPLACE TEMPORARY TABLE x (a INT)', 'escape', true)).toBeUndefined();
    expect(find('mysql', 'DROP TEMPORARY TABLE IF EXISTS x', 'escape', true)).toBeUndefined();
  });

  it('postgres: BEGIN ATOMIC opens a function body only; AS case in one is no CASE', () => {
    expect(find('postgres', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS case; END; COMMIT')).toBe('COMMIT');
    expect(find('postgres', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT t.case FROM t; END; COMMIT')).toBe('COMMIT');
    expect(find('postgres', 'CREATE TEMP VIEW v AS SELECT begin atomic FROM (SELECT 1 AS begin) s; COMMIT')).toBe('COMMIT');
    expect(find('postgres', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql RETURN (SELECT begin atomic FROM t); COMMIT')).toBe('COMMIT');
    // An END after `.` may close: `ELSE 1. END`.
    expect(find('postgres', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT CASE WHEN true THEN 1 ELSE 1. END; END; COMMIT')).toBe('COMMIT');
    // Legitimate bodies still pass, labels named end included.
    expect(find('postgres', 'CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1 AS end; SELECT CASE WHEN true THEN 1 END; END')).toBeUndefined();
    expect(find('postgres', 'CREATE OR REPLACE PROCEDURE p() LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (1); END')).toBeUndefined();
  });
});

describe('mysql: "…" is read both ways, as a string and (ANSI_QUOTES) as an identifier', () => {
  it('a backslash before the closing " escapes nothing in an identifier: the COMMIT after it is found', () => {
    // Committed on MariaDB through a multipleStatements pool whose sessions run ANSI_QUOTES.
    expect(find('mysql', 'SELECT 1 AS "a\\"; COMMIT', 'escape')).toBe('COMMIT');
    expect(find('mysql', "SELECT \"it\\'s; commit\"", 'escape')).toBeUndefined();
  });
});

describe('mysql: more statements that commit implicitly (each verified committing on MariaDB 10.11)', () => {
  it('SET DEFAULT ROLE, BACKUP LOCK / BACKUP STAGE', () => {
    expect(find('mysql', 'SET DEFAULT ROLE NONE', 'escape', true)).toBe('SET DEFAULT ROLE (implicit commit)');
    expect(find('mysql', 'set default role r1 for u@h', 'escape', true)).toBe('SET DEFAULT ROLE (implicit commit)');
    expect(find('mysql', 'BACKUP LOCK t', 'escape', true)).toBe('BACKUP (implicit commit)');
    expect(find('mysql', 'BACKUP STAGE START', 'escape', true)).toBe('BACKUP (implicit commit)');
    // Not these: a session variable named so, SET ROLE (no commit).
    expect(find('mysql', 'SET @default = 1', 'escape', true)).toBeUndefined();
    expect(find('mysql', 'SET ROLE NONE', 'escape', true)).toBeUndefined();
  });
});
