/**
 * `store.run()` runs one statement in autocommit. A `BEGIN` given to it used to stay open on the
 * connection it ran on — on SQLite the store's only one — so every statement after it, the
 * lease's own renewals included, ran inside a transaction nobody committed: invisible to every
 * other connection, and rolled back when the process died. `run()` now refuses the statements
 * `store.transaction(fn)` refuses (and savepoints, which need a transaction), unsent.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TransactionControlError, sqliteStore, storeFromUrl, type LeaseStore } from 'hotcold/lease';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const withPostgres = await databaseAvailable('postgres');
const withMariadb = await databaseAvailable('mysql');
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hc-run-control-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const refused: [string, string][] = [
  ['BEGIN', 'BEGIN'],
  ['/* x */ begin', 'BEGIN'],
  ['COMMIT', 'COMMIT'],
  ['ROLLBACK', 'ROLLBACK'],
  ['SET autocommit = 0', 'SET autocommit'],
  ['SAVEPOINT s', 'SAVEPOINT'],
  ['-- note\nrollback to s', 'SAVEPOINT'],
];

function suite(label: string, open: (table: string) => LeaseStore, other: (table: string) => LeaseStore): void {
  describe(`${label}: store.run() refuses transaction control`, () => {
    it.each(refused)('%s', async (sql, keyword) => {
      const table = uniqueTable('runctl');
      const store = open(table);
      const reader = other(table);
      try {
        await store.init();
        const error = await store.run?.(sql).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(TransactionControlError);
        expect((error as TransactionControlError).statement).toBe(keyword);
        // Nothing was left open: a write through run() is committed, seen by another connection.
        await store.run?.(`INSERT INTO ${table} (name, holder) VALUES (?, ?)`, ['seen', 'h']);
        expect((await reader.read('seen'))?.holder).toBe('h');
      } finally {
        await store.run?.(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
        await store.close();
        await reader.close();
      }
    }, 60_000);

    it('DDL and plain statements still run', async () => {
      const table = uniqueTable('runctl');
      const store = open(table);
      try {
        await store.run?.(`CREATE TABLE ${table}_x (a INTEGER)`);
        await store.run?.(`INSERT INTO ${table}_x (a) VALUES (?)`, [1]);
        expect((await store.run?.(`SELECT a FROM ${table}_x`))?.rows).toEqual([{ a: 1 }]);
      } finally {
        await store.run?.(`DROP TABLE IF EXISTS ${table}_x`).catch(() => undefined);
        await store.close();
      }
    }, 60_000);
  });
}

suite(
  'SQLite',
  (table) => sqliteStore(path.join(dir, `${table}.db`), { table }),
  (table) => sqliteStore(path.join(dir, `${table}.db`), { table }),
);
if (withPostgres) suite('PostgreSQL', (table) => storeFromUrl(PG_URL, { table }), (table) => storeFromUrl(PG_URL, { table }));
if (withMariadb) suite('MariaDB', (table) => storeFromUrl(MYSQL_URL, { table }), (table) => storeFromUrl(MYSQL_URL, { table }));
