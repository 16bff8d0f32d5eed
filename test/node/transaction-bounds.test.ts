import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { SqlExecutor } from 'hotcold/lease';
import { transactionBounds } from '../../src/node/sql-dialect.js';
import { boundsPreparer } from '../../src/node/transaction-bounds.js';

const numbers = (sql: string): number[] => [...sql.matchAll(/(?:= |')(\d+(?:\.\d+)?)/g)].map((m) => Number(m[1]));

describe('transactionBounds', () => {
  it('PostgreSQL: every bound is an integer ms in 1 … 2^31−1, in one statement, whatever the input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ min: 0, max: 1e15, noNaN: true }), fc.constant(Number.MAX_SAFE_INTEGER)), fc.double({ min: 0, max: 1e15, noNaN: true }), (s, i) => {
        const out = transactionBounds('postgres', { statementMs: s, idleMs: i });
        expect(out).toHaveLength(1);
        expect(out[0]!.sql).toMatch(/lock_timeout.*statement_timeout.*idle_in_transaction_session_timeout/);
        for (const n of numbers(out[0]!.sql)) {
          expect(Number.isInteger(n)).toBe(true);
          expect(n).toBeGreaterThanOrEqual(1);
          expect(n).toBeLessThanOrEqual(2 ** 31 - 1);
        }
      }),
    );
  });

  it('MariaDB: lock waits in whole seconds ≥ 1, max_statement_time in seconds with ms precision, clamped to a year', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1e15, noNaN: true }), fc.double({ min: 0, max: 1e15, noNaN: true }), (s, i) => {
        const out = transactionBounds('mysql', { statementMs: s, idleMs: i });
        expect(out.map((b) => b.optional)).toEqual([false, true, true]);
        for (const b of out) {
          for (const n of numbers(b.sql)) {
            expect(n).toBeGreaterThan(0);
            expect(n).toBeLessThanOrEqual(31_536_000);
            if (!b.sql.includes('max_statement_time')) expect(Number.isInteger(n)).toBe(true);
          }
        }
      }),
    );
    expect(transactionBounds('mysql', { statementMs: 750, idleMs: 750 }).map((b) => b.sql)).toEqual([
      'SET SESSION innodb_lock_wait_timeout = 1, SESSION lock_wait_timeout = 1',
      'SET SESSION max_statement_time = 0.750',
      'SET SESSION idle_transaction_timeout = 1',
    ]);
  });

  it('false leaves a bound alone; SQLite has none', () => {
    expect(transactionBounds('postgres', { statementMs: false, idleMs: false })).toEqual([]);
    expect(transactionBounds('postgres', { statementMs: false, idleMs: 10 })[0]!.sql).not.toMatch(/lock_timeout/);
    expect(transactionBounds('mysql', { statementMs: false, idleMs: 2500 }).map((b) => b.sql)).toEqual(['SET SESSION idle_transaction_timeout = 3']);
    expect(transactionBounds('sqlite', { statementMs: 10, idleMs: 10 })).toEqual([]);
  });
});

describe('boundsPreparer', () => {
  /** Records what the preparer sends; `missing` variables fail like on MySQL proper. */
  function recorder(missing: string[] = []): { sent: string[]; tx: SqlExecutor } {
    const sent: string[] = [];
    const tx: SqlExecutor = {
      dialect: 'mysql',
      query: async () => [],
      execute: async (sql: string) => {
        sent.push(sql);
        if (missing.some((m) => sql.includes(m))) throw Object.assign(new Error(`Unknown system variable '${missing[0]}'`), { errno: 1193 });
        return { changes: 0 };
      },
    };
    return { sent, tx };
  }

  it("lowers the statement bound to the caller's remaining time, never raises it", async () => {
    const prepare = boundsPreparer('postgres', { statementMs: 750, idleMs: 750 }, () => undefined)!;
    const r = recorder();
    await prepare(r.tx, 200);
    await prepare(r.tx, 5000);
    await prepare(r.tx);
    expect(r.sent[0]).toContain("set_config('statement_timeout', '200', true)");
    expect(r.sent[1]).toContain("set_config('statement_timeout', '750', true)");
    expect(r.sent[2]).toContain("set_config('lock_timeout', '750', true)");
  });

  it('MySQL proper: drops the variables it lacks once, reports them, keeps the rest in one statement', async () => {
    const reported: string[] = [];
    const prepare = boundsPreparer('mysql', { statementMs: 750, idleMs: 750 }, (sql) => reported.push(sql))!;
    const r = recorder(['max_statement_time', 'idle_transaction_timeout']);
    await prepare(r.tx);
    expect(reported).toEqual(['SET SESSION max_statement_time = 0.750', 'SET SESSION idle_transaction_timeout = 1']);
    r.sent.length = 0;
    await prepare(r.tx, 300);
    expect(r.sent).toEqual(['SET SESSION innodb_lock_wait_timeout = 1, SESSION lock_wait_timeout = 1']);
    expect(reported).toHaveLength(2);
  });

  it('a required SET that fails is an error, not skipped', async () => {
    const prepare = boundsPreparer('mysql', { statementMs: 750, idleMs: false }, () => undefined)!;
    await expect(prepare(recorder(['innodb_lock_wait_timeout']).tx)).rejects.toThrow(/Unknown system variable/);
  });
});
