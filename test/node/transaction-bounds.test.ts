import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { transactionBounds } from '../../src/node/sql-dialect.js';

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
