import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { leasePathFor, namesTable } from '../../src/lease/stores/sqlite-lease-file.js';

const identifier = fc.stringMatching(/^[A-Za-z_][A-Za-z0-9_]{0,20}$/);
const separator = fc.constantFrom(' ', '\n', '(', ')', ',', '.', '"', '`', '[', ']', ';', '=');
const wordChar = fc.constantFrom('a', 'Z', '0', '_', '$');

describe('SQLite: which statements go to the lease file', () => {
  it('a statement names the lease table exactly when the identifier stands whole, in any case', () => {
    fc.assert(
      fc.property(identifier, fc.string(), separator, separator, fc.string(), fc.boolean(), (table, before, left, right, after, upper) => {
        const isLease = namesTable(table);
        const name = upper ? table.toUpperCase() : table;
        expect(isLease(`${before}${left}${name}${right}${after}`)).toBe(true);
        expect(isLease(name)).toBe(true);
      }),
    );
  });

  it('never matches the table name as part of a longer identifier', () => {
    fc.assert(
      fc.property(identifier, wordChar, wordChar, (table, prefix, suffix) => {
        const isLease = namesTable(table);
        expect(isLease(`SELECT * FROM ${prefix}${table}`)).toBe(false);
        expect(isLease(`SELECT * FROM ${table}${suffix}`)).toBe(false);
      }),
    );
  });

  it('puts the lease file beside the database, and keeps an in-memory database in memory', () => {
    expect(leasePathFor('/var/lib/app/data.db', false)).toBe('/var/lib/app/data.db-lease');
    expect(leasePathFor(':memory:', false)).toBe(':memory:');
    expect(leasePathFor('', true)).toBe(':memory:');
  });
});
