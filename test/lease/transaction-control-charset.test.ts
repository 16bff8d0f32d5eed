/**
 * fn may not change its session's character set through the transaction handle (found attacking
 * c73425c: the utf8mb4 check runs once per store, on the pool's first connection). On MariaDB a
 * handler's `SET NAMES latin1` stayed on the pooled connection, and every later transaction on it
 * — the node's idempotency claims included — stored 'pay-😀' as 'pay-=\0' (a key another key
 * could equal); on PostgreSQL `SET client_encoding = LATIN1` made the rest of fn's statements
 * store each UTF-8 byte as a character. Refused unsent (TransactionControlError, rolled back);
 * the next transaction reads and writes text as it should. `SET @names = …` and other settings
 * still pass, and so does `SET NAMES utf8mb4` (a utf8mb4 name as a word: dump files begin so). Real MariaDB and PostgreSQL.
 */
import { describe, expect, it } from 'vitest';
import { mysqlStore, postgresStore, TransactionControlError, type SqlLeaseStore } from '../../src/lease/index.js';
import { transactionControlKeyword } from '../../src/lease/stores/transaction-control.js';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const mysqlUp = await databaseAvailable('mysql');
const pgUp = await databaseAvailable('postgres');

async function refusedThenClean(store: SqlLeaseStore, statement: string, lengthSql: string): Promise<void> {
  const outcome = await store.transaction((tx) => tx.execute(statement)).catch((e: unknown) => e);
  expect(outcome, statement).toBeInstanceOf(TransactionControlError);
  const [row] = await store.transaction((tx) => tx.query<{ n: unknown }>(lengthSql, ['pay-😀']));
  expect(Number(row?.n), statement).toBe(5);
}

describe.runIf(mysqlUp)('MariaDB: fn changing the character set', () => {
  it('is refused, and the pooled connection stays utf8mb4', async () => {
    const store = mysqlStore(MYSQL_URL, { table: uniqueTable(), connectionLimit: 1 });
    try {
      for (const statement of [
        'SET NAMES latin1',
        "set names 'latin1' collate latin1_bin",
        'SET CHARACTER SET latin1',
        'SET CHARSET latin1',
        'SET SESSION character_set_client = latin1',
        'SET @@session.character_set_connection = latin1',
        'SET character_set_results = latin1, @x = 1',
        'SET collation_connection = latin1_swedish_ci',
        'SET STATEMENT max_statement_time = 0 FOR SET NAMES latin1',
      ]) {
        await refusedThenClean(store, statement, 'SELECT CHAR_LENGTH(?) AS n');
      }
      await store.transaction((tx) => tx.execute('SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci'));
      await store.transaction((tx) => tx.execute("SET @names = 1, @charset = 'latin1', SESSION sql_mode = CONCAT(@@sql_mode, '')"));
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe.runIf(pgUp)('PostgreSQL: fn changing the client encoding', () => {
  it('is refused, and fn\'s text is stored as sent', async () => {
    const store = postgresStore(PG_URL, { table: uniqueTable() });
    try {
      for (const statement of ["SET client_encoding = 'LATIN1'", 'set local client_encoding to LATIN1', 'SET SESSION client_encoding TO default, xyz', "SET NAMES 'LATIN1'"]) {
        await refusedThenClean(store, statement, 'SELECT length(?::text) AS n');
      }
      await store.transaction((tx) => tx.execute("SET LOCAL application_name = 'names'"));
    } finally {
      await store.close();
    }
  }, 60_000);
});

it('the check names the setting, never the text', () => {
  expect(transactionControlKeyword('mysql', 'SET NAMES latin1', 'escape')).toBe('SET character set');
  expect(transactionControlKeyword('mysql', "SET character_set_client = 'latin1'", 'escape')).toBe('SET character set');
  expect(transactionControlKeyword('mysql', 'SET NAMES DEFAULT', 'escape')).toBe('SET character set');
  // A utf8mb4 name as a word changes nothing the store relies on (dump files begin so).
  expect(transactionControlKeyword('mysql', '/*!40101 SET NAMES utf8mb4 */', 'escape')).toBeUndefined();
  expect(transactionControlKeyword('mysql', 'SET collation_connection = utf8mb4_bin', 'escape')).toBeUndefined();
  expect(transactionControlKeyword('postgres', 'SET client_encoding = UTF8', 'literal')).toBe('SET character set');
  expect(transactionControlKeyword('sqlite', 'SELECT 1', 'literal')).toBeUndefined();
  expect(transactionControlKeyword('mysql', "SET @v = 'names'", 'escape')).toBeUndefined();
});
