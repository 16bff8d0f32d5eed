/**
 * Issue 7 point 4, SQL text: `?` placeholders are bound on every dialect without touching a `?`
 * that is not one — in strings, quoted identifiers, dollar quotes, comments, or operators such as
 * jsonb's `?`, `?|`, `?&` and jsonpath's `@?`. PostgreSQL: our lexer rewrites `?` to `$n` (and
 * leaves native `$n` text alone); MariaDB: mysql2 binds `?` itself; SQLite: the database parses `?`.
 */
import fc from 'fast-check';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { sqliteStore, storeFromUrl, type LeaseStore } from '../../src/lease/index.js';
import type { HandlerContext } from '../../src/node/index.js';
import { inlinePgParams, toPgPlaceholders } from '../../src/lease/stores/placeholders.js';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { fixture, rpc, startNode, until } from '../node/support.js';
import { uniqueTable } from './helpers.js';

const pgUp = await databaseAvailable('postgres');
const mysqlUp = await databaseAvailable('mysql');

/** A piece of SQL: its text, and whether it is a placeholder. */
interface Piece {
  text: string;
  placeholder: boolean;
}

const noise = fc.string({ unit: fc.constantFrom('?', "'", '"', '$', '-', '/', '*', '\n', '\r', 'a', ' ', '\\', '|', '&', ':') , maxLength: 12 });
const lineEnd = fc.constantFrom('\n', '\r', '\r\n');
const word = fc.stringMatching(/^[a-z_][a-z0-9_]{0,6}$/);

/** PostgreSQL pieces that contain a `?` that is NOT a placeholder, and placeholders. */
const pgPiece: fc.Arbitrary<Piece> = fc.oneof(
  fc.constant({ text: '?', placeholder: true }),
  fc.constant({ text: '(?)', placeholder: true }),
  fc.constant({ text: '?::int', placeholder: true }),
  fc.constant({ text: 'a=?', placeholder: true }),
  noise.map((s) => ({ text: `'${s.replace(/'/g, "''")}'`, placeholder: false })),
  noise.map((s) => ({ text: `E'${s.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, placeholder: false })),
  noise.map((s) => ({ text: `"${s.replace(/"/g, '""')}"`, placeholder: false })),
  fc.tuple(fc.constantFrom('', 'q', 'tag_1'), noise).map(([tag, s]) => {
    const body = s.split(`$${tag}$`).join('');
    return { text: `$${tag}$${body.endsWith('$') ? `${body} ` : body}$${tag}$`, placeholder: false };
  }),
  // PostgreSQL ends a `--` comment at \n OR \r (scan.l: newline [\n\r]).
  fc.tuple(noise, lineEnd).map(([s, end]) => ({ text: `-- ${s.replace(/[\n\r]/g, ' ')}${end}`, placeholder: false })),
  // Every '/' and '*' goes: removing only '/*' and '*/' can leave new ones ('//**' → '/*').
  noise.map((s) => ({ text: `/* ${s.replace(/[/*]/g, '')} /* nested ? */ */`, placeholder: false })),
  fc.constantFrom('?|', '?&', '@?', '?#', '?-|', '?||', '??').map((op) => ({ text: `x ${op} y`, placeholder: false })),
  fc.constantFrom('::jsonb', '::int[]', '(', ')', ',', 'SELECT', 'x.y', '1.5e3', 'x').map((t) => ({ text: t, placeholder: false })),
  word.map((w) => ({ text: w, placeholder: false })),
);

function render(pieces: readonly Piece[]): { sql: string; expected: string; count: number } {
  let count = 0;
  const sql = pieces.map((p) => p.text).join(' ');
  const expected = pieces
    .map((p) => {
      if (!p.placeholder) return p.text;
      return p.text.replace('?', () => `$${++count}`);
    })
    .join(' ');
  return { sql, expected, count };
}

describe('PostgreSQL placeholders (pure)', () => {
  it('rewrites exactly the placeholder ?s, in order, for every generated statement', () => {
    fc.assert(
      fc.property(fc.array(pgPiece, { maxLength: 12 }), (pieces) => {
        const { sql, expected, count } = render(pieces);
        expect(toPgPlaceholders(sql, Math.max(count, 1))).toBe(count === 0 ? sql : expected);
      }),
      { numRuns: 2000 },
    );
  });

  it('passes text through unchanged with no parameters, or with native $n placeholders', () => {
    fc.assert(
      fc.property(fc.array(pgPiece, { maxLength: 12 }), (pieces) => {
        const { sql } = render(pieces);
        expect(toPgPlaceholders(sql, 0)).toBe(sql);
        expect(toPgPlaceholders(`${sql} $1`, 1)).toBe(`${sql} $1`);
      }),
    );
  });

  it('a -- comment ending in a bare \\r does not hide the placeholder after it', () => {
    expect(toPgPlaceholders('SELECT 1 AS one -- note\r, ?::int AS v', 1)).toBe('SELECT 1 AS one -- note\r, $1::int AS v');
    expect(toPgPlaceholders('SELECT 1 AS one -- note?\r, ?::int AS v', 1)).toBe('SELECT 1 AS one -- note?\r, $1::int AS v');
  });

  it('the issue input: the jsonb ? operator without parameters is left alone', () => {
    expect(toPgPlaceholders(`SELECT '{"a":1}'::jsonb ? 'a'`, 0)).toBe(`SELECT '{"a":1}'::jsonb ? 'a'`);
  });

  it('inlines literals that read back the same, whatever they contain', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom("'", '\\', '?', '$', 'a', 'é', '\n') }), (s) => {
        expect(inlinePgParams('SELECT ?', [s])).toMatch(/^SELECT E'/);
      }),
    );
  });
});

/** Expressions that evaluate to a known text value, each possibly holding a non-placeholder `?`. */
type Expr = { sql: string; params: readonly string[]; value: string };
const value = fc.string({ unit: fc.constantFrom('?', "'", '"', '$', '\\', 'a', ' ', '|', '#', '-', '*', '/'), maxLength: 8 });

const pgExpr: fc.Arbitrary<Expr> = fc.oneof(
  value.map((v) => ({ sql: '?::text', params: [v], value: v })),
  value.map((v) => ({ sql: `'${v.replace(/'/g, "''")}'`, params: [], value: v })),
  value.map((v) => ({ sql: `E'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, params: [], value: v })),
  value.filter((v) => !v.includes('$')).map((v) => ({ sql: `$q$${v}$q$`, params: [], value: v })),
  value.map((v) => ({ sql: `/* ${v.replace(/[/*]/g, '')} */ 'c'`, params: [], value: 'c' })),
  fc.tuple(value, lineEnd).map(([v, end]) => ({ sql: `('{"a":1}'::jsonb ?| array['a'])::text -- ${v}${end}`, params: [], value: 'true' })),
  fc.constant({ sql: `('{"a":1}'::jsonb ?& array['a','b'])::text`, params: [], value: 'false' }),
  fc.constant({ sql: `('{"a":[1,2]}'::jsonb @? '$.a[*] ? (@ > 1)')::text`, params: [], value: 'true' }),
);

describe.runIf(pgUp)('PostgreSQL placeholders against the server', () => {
  const store = storeFromUrl(PG_URL, { table: uniqueTable() });
  afterAll(() => store.close());

  it('a -- comment ending in a bare \\r: the placeholder after it is bound', async () => {
    const rows = await store.transaction((tx) => tx.query('SELECT 1 AS one -- note\r, ?::int AS v', [5]));
    expect(rows[0]?.v).toBe(5);
  });

  it('the issue input: the jsonb ? operator inside a transaction', async () => {
    const rows = await store.transaction((tx) => tx.query(`SELECT '{"a":1}'::jsonb ? 'a' AS has`));
    expect(rows).toEqual([{ has: true }]);
  });

  it('generated statements mixing placeholders with strings, dollar quotes, comments and ? operators return their values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(pgExpr, { minLength: 1, maxLength: 6 }), async (exprs) => {
        const sql = `SELECT ${exprs.map((e, i) => `${e.sql} AS c${i}`).join(',\n ')}`;
        const params = exprs.flatMap((e) => e.params);
        const rows = await store.transaction((tx) => tx.query(sql, params));
        expect(Object.values(rows[0] ?? {})).toEqual(exprs.map((e) => e.value));
        // The engine's inlined path reads the same.
        const bounded = await store.run(sql, params, { timeoutMs: 5000 });
        expect(Object.values(bounded.rows[0] ?? {})).toEqual(exprs.map((e) => e.value));
      }),
      { numRuns: 60 },
    );
  }, 60_000);

  it('a handler on a node uses the jsonb ? operator in ctx.tx', async () => {
    const f = fixture();
    try {
      const t = uniqueTable('ph');
      const n = await startNode(f, 'ph', {
        db: PG_URL,
        leaseTable: t,
        dedup: { table: `${t}_d` },
        feeds: { table: `${t}_f` },
        handlers: {
          has: async (_: unknown, ctx: HandlerContext) => (await ctx.tx.query(`SELECT '{"a":1}'::jsonb ? 'a' AS has`))[0],
        },
      });
      await until(() => n.node.status === 'active', 15_000, 'active');
      const answer = await rpc(n.url, 'has', {});
      expect(answer.body).toMatchObject({ result: { has: true } });
      for (const name of [t, `${t}_d`, `${t}_f`, `${t}_f_counter`]) await n.store.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${name}`)).catch(() => undefined);
    } finally {
      await f.cleanup();
    }
  }, 30_000);
});

const myExpr: fc.Arbitrary<Expr> = fc.oneof(
  value.map((v) => ({ sql: 'CAST(? AS CHAR)', params: [v], value: v })),
  value.map((v) => ({ sql: `'${v.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`, params: [], value: v })),
  value.map((v) => ({ sql: `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`, params: [], value: v })),
  value.map((v) => ({ sql: `"${v.replace(/\\/g, '\\\\').replace(/"/g, '""')}"`, params: [], value: v })),
  value.map((v) => ({ sql: `/* ${v.replace(/[/*]/g, '')} */ 'c'`, params: [], value: 'c' })),
  value.map((v) => ({ sql: `'c' -- ${v.replace(/[\r\n]/g, '')}\n`, params: [], value: 'c' })),
  value.map((v) => ({ sql: `'c' # ${v.replace(/[\r\n]/g, '')}\n`, params: [], value: 'c' })),
);

describe.runIf(mysqlUp)('MariaDB placeholders against the server', () => {
  const store = storeFromUrl(MYSQL_URL, { table: uniqueTable() });
  afterAll(() => store.close());

  it('generated statements mixing placeholders with strings and comments return their values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(myExpr, { minLength: 1, maxLength: 6 }), async (exprs) => {
        const sql = `SELECT ${exprs.map((e, i) => `${e.sql} AS c${i}`).join(',\n ')}`;
        const params = exprs.flatMap((e) => e.params);
        const rows = await store.transaction((tx) => tx.query(sql, params));
        expect(Object.values(rows[0] ?? {}).map(String)).toEqual(exprs.map((e) => e.value));
        const bounded = await store.run(sql, params, { timeoutMs: 5000 });
        expect(Object.values(bounded.rows[0] ?? {}).map(String)).toEqual(exprs.map((e) => e.value));
      }),
      { numRuns: 60 },
    );
  }, 60_000);
});

describe('SQLite placeholders against the database', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-ph-'));
  const store: LeaseStore = sqliteStore(join(dir, 'ph.db'));
  afterAll(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const liteExpr: fc.Arbitrary<Expr> = fc.oneof(
    value.map((v) => ({ sql: 'CAST(? AS TEXT)', params: [v], value: v })),
    value.map((v) => ({ sql: `'${v.replace(/'/g, "''")}'`, params: [], value: v })),
    value.map((v) => ({ sql: `/* ${v.replace(/[/*]/g, '')} */ 'c'`, params: [], value: 'c' })),
    value.map((v) => ({ sql: `'c' -- ${v.replace(/[\r\n]/g, '')}\n`, params: [], value: 'c' })),
  );
  it('generated statements mixing placeholders with strings and comments return their values', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(liteExpr, { minLength: 1, maxLength: 6 }), async (exprs) => {
        const sql = `SELECT ${exprs.map((e, i) => `${e.sql} AS c${i}`).join(',\n ')}`;
        const rows = await store.transaction((tx) => tx.query(sql, exprs.flatMap((e) => e.params)));
        expect(Object.values(rows[0] ?? {})).toEqual(exprs.map((e) => e.value));
      }),
      { numRuns: 60 },
    );
  });
});
