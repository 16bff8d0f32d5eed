/**
 * A lease table of the wrong SHAPE — not only missing columns, but a type of too little range or
 * precision, a holder too narrow for our holder ids, a name that is not unique — is refused at
 * once by acquire() with a StoreSchemaError naming the column and the problem, on every dialect.
 * (A float4 renewed_at rounds the ms stamp by up to a minute: two holders at once.)
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { StoreSchemaError, createLease, sqliteStore, storeFromUrl, type LeaseStore } from '../../src/lease/index.js';
import { asPermanentStoreError } from '../../src/lease/permanent-errors.js';
import { ensureSchema } from '../../src/lease/schema.js';
import { dedupSchema } from '../../src/node/dedup-store.js';
import { feedSchema } from '../../src/node/feed-store.js';
import { MYSQL_URL, PG_URL, databaseAvailable } from '../support/services.js';
import { uniqueTable } from './helpers.js';

const pgUp = await databaseAvailable('postgres');
const mysqlUp = await databaseAvailable('mysql');

const cols = (o: Partial<Record<'name' | 'holder' | 'token' | 'version' | 'renewed_at' | 'wait_interval_ms', string>>, dbl: string, key = 'VARCHAR(191)') =>
  [
    `name ${o.name ?? `${key} PRIMARY KEY`}`,
    `holder ${o.holder ?? 'VARCHAR(255)'}`,
    `token ${o.token ?? 'BIGINT NOT NULL DEFAULT 0'}`,
    `version ${o.version ?? 'BIGINT NOT NULL DEFAULT 0'}`,
    `renewed_at ${o.renewed_at ?? `${dbl} NOT NULL DEFAULT 0`}`,
    `wait_interval_ms ${o.wait_interval_ms ?? 'BIGINT NOT NULL DEFAULT 0'}`,
  ].join(', ');

/** Creates `table` with `columns`, then expects acquire() to reject at once naming `problem`. */
async function expectRefused(store: LeaseStore, problem: RegExp): Promise<void> {
  const lease = createLease({ store, machineName: 'shape', updateInterval: 500, waitInterval: 40_000 });
  try {
    // The engine would retry a transient fault until this bound; a permanent one rejects first.
    const outcome = await Promise.race([
      lease.acquire().then(() => 'acquired', (e: unknown) => e),
      new Promise<string>((r) => setTimeout(() => r('still pending after 15 s'), 15_000)),
    ]);
    expect(outcome).toBeInstanceOf(StoreSchemaError);
    expect((outcome as StoreSchemaError).message).toMatch(problem);
  } finally {
    await lease.close();
  }
}

async function expectAccepted(store: LeaseStore): Promise<void> {
  const lease = createLease({ store, machineName: 'shape', updateInterval: 500, waitInterval: 40_000 });
  try {
    const held = await lease.acquire();
    expect(held.token).toBe(1);
  } finally {
    await lease.close();
  }
}

const serverCases = (dbl: string, float4: string, key: string): [string, string, RegExp][] => [
  ['renewed_at 4-byte float', cols({ renewed_at: `${float4} NOT NULL DEFAULT 0` }, dbl, key), /column renewed_at \(type (real|float)\) needs/i],
  ['no key on name', cols({ name: `${key} NOT NULL` }, dbl, key), /\(name\) is not a primary key or unique index/],
  ['wait_interval_ms SMALLINT', cols({ wait_interval_ms: 'SMALLINT NOT NULL DEFAULT 0' }, dbl, key), /column wait_interval_ms \(type smallint\) needs/i],
  ['renewed_at INTEGER', cols({ renewed_at: 'INTEGER NOT NULL DEFAULT 0' }, dbl, key), /column renewed_at \(type int(eger)?\) needs/i],
  ['token TEXT', cols({ token: "TEXT NOT NULL" }, dbl, key), /column token \(type text.*needs BIGINT/i],
  ['holder VARCHAR(5)', cols({ holder: 'VARCHAR(5)' }, dbl, key), /column holder \(type (character varying\(5\)|varchar\(5\))\) needs .*213/i],
];

function serverSuite(label: string, url: string, dbl: string, float4: string, key: string, extraDdl: (t: string) => string[]) {
  describe(`${label}: a lease table of the wrong shape is refused at once`, () => {
    const admin = storeFromUrl(url, { table: uniqueTable('shape_admin') });
    const made: string[] = [];
    afterAll(async () => {
      for (const t of made) await admin.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${t}`)).catch(() => undefined);
      await admin.close();
    });
    const make = async (columns: string, leaseTable = true): Promise<string> => {
      const table = uniqueTable('shape');
      made.push(table);
      await admin.transaction(async (tx) => {
        await tx.execute(`CREATE TABLE ${table} (${columns})`);
        if (leaseTable) for (const s of extraDdl(table)) await tx.execute(s);
      });
      return table;
    };

    it.each(serverCases(dbl, float4, key))('%s', async (_label, columns, problem) => {
      const store = storeFromUrl(url, { table: await make(columns) });
      try {
        await expectRefused(store, problem);
      } finally {
        await store.close();
      }
    }, 60_000);

    it("the node's dedup and feed tables are checked the same way", async () => {
      const dialect = admin.dialect;
      const dedup = await make('idem_key VARCHAR(255) NOT NULL PRIMARY KEY, caller VARCHAR(255) NOT NULL, method VARCHAR(255) NOT NULL, fingerprint VARCHAR(255) NOT NULL, result TEXT, token INTEGER NOT NULL, created_at BIGINT NOT NULL', false);
      await expect(ensureSchema(admin, dedupSchema(dialect, dedup), 'shape-test')).rejects.toThrow(/column token \(type int(eger)?\) needs/i);
      // A key column compared byte for byte: on MariaDB a NO PAD binary collation (the database's default _ci and PAD SPACE utf8mb4_bin are refused below).
      const key = dialect === 'mysql' ? 'VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin' : 'VARCHAR(255)';
      const feed = await make(`feed ${key} NOT NULL, seq BIGINT NOT NULL, data ${dialect === 'mysql' ? 'LONGTEXT' : 'TEXT'} NOT NULL`, false);
      const counter = await make(`feed ${key} NOT NULL PRIMARY KEY, last_seq BIGINT NOT NULL`, false);
      await expect(ensureSchema(admin, feedSchema(dialect, feed, counter), 'shape-test')).rejects.toThrow(/\(feed, seq\) is not a primary key/);
      if (dialect === 'mysql') {
        const ci = await make('feed VARCHAR(255) COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, last_seq BIGINT NOT NULL', false);
        await expect(ensureSchema(admin, feedSchema(dialect, feed, ci), 'shape-test')).rejects.toThrow(/column feed \(collation utf8mb4_general_ci\) treats keys that differ in case/);
        // PAD SPACE: 'orders' and 'orders ' would be one feed.
        const pad = await make('feed VARCHAR(255) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL PRIMARY KEY, last_seq BIGINT NOT NULL', false);
        await expect(ensureSchema(admin, feedSchema(dialect, feed, pad), 'shape-test')).rejects.toThrow(/column feed \(collation utf8mb4_bin\) treats keys that differ in case, accents or trailing spaces as one key; it needs a NO PAD binary collation .*COLLATE utf8mb4_nopad_bin/);
      }
      // Our own DDL passes.
      const ok = uniqueTable('shape');
      made.push(ok, `${ok}_c`);
      await ensureSchema(admin, [...dedupSchema(dialect, `${ok}_d`), ...feedSchema(dialect, ok, `${ok}_c`)], 'shape-test');
      made.push(`${ok}_d`);
      await ensureSchema(admin, [...dedupSchema(dialect, `${ok}_d`), ...feedSchema(dialect, ok, `${ok}_c`)], 'shape-test');
    }, 60_000);

    it('our own DDL, and equivalent types (text, a wider varchar, unique index instead of primary key), are accepted', async () => {
      for (const columns of [cols({}, dbl, key), cols({ name: `${key} NOT NULL UNIQUE`, holder: 'TEXT' }, dbl, key), cols({ holder: 'VARCHAR(1000)' }, dbl, key)]) {
        const store = storeFromUrl(url, { table: await make(columns) });
        try {
          await expectAccepted(store);
        } finally {
          await store.close();
        }
      }
    }, 60_000);
  });
}

if (pgUp) serverSuite('PostgreSQL', PG_URL, 'DOUBLE PRECISION', 'REAL', 'VARCHAR(191)', (t) => [`CREATE UNIQUE INDEX ${t}_name_token ON ${t} (name, token)`]);
if (mysqlUp) serverSuite('MariaDB', MYSQL_URL, 'DOUBLE', 'FLOAT', 'VARCHAR(191) CHARACTER SET utf8mb4 COLLATE utf8mb4_nopad_bin', () => []);

describe.runIf(mysqlUp)('MariaDB: a lease table whose name compares loosely is refused', () => {
  const admin = mysqlUp ? storeFromUrl(MYSQL_URL, { table: uniqueTable('shape_admin') }) : undefined;
  const made: string[] = [];
  afterAll(async () => {
    for (const t of made) await admin?.transaction((tx) => tx.execute(`DROP TABLE IF EXISTS ${t}`)).catch(() => undefined);
    await admin?.close();
  });
  // PAD SPACE utf8mb4_bin (the DDL of earlier versions): 'ledger' and 'ledger ' were one row.
  it.each([
    ['utf8mb4_bin', /column name \(collation utf8mb4_bin\) treats keys that differ in case, accents or trailing spaces as one key/],
    ['utf8mb4_general_ci', /column name \(collation utf8mb4_general_ci\) treats keys/],
    // NO PAD binary, but a character set without emoji: a non-strict session stored 'ledger-😀'
    // and 'ledger-😁' both as 'ledger-?', one row.
    ['utf8mb3_nopad_bin', /column name \(collation utf8mb3_nopad_bin\) cannot hold every key.*utf8mb4/],
    ['latin1_nopad_bin', /column name \(collation latin1_nopad_bin\) cannot hold every key/],
  ])('name %s', async (collation, problem) => {
    const table = uniqueTable('shape');
    made.push(table);
    const charset = collation.slice(0, collation.indexOf('_'));
    await admin?.transaction((tx) => tx.execute(`CREATE TABLE ${table} (${cols({}, 'DOUBLE', `VARCHAR(191) CHARACTER SET ${charset} COLLATE ${collation}`)})`));
    const store = storeFromUrl(MYSQL_URL, { table });
    try {
      await expectRefused(store, problem);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('SQLite: a lease file holding a lease table of the wrong shape is refused', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hc-shape-'));
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
  it.each([
    ['no key on name', 'name TEXT NOT NULL, holder TEXT, token INTEGER, version INTEGER, renewed_at REAL, wait_interval_ms INTEGER', /\(name\) is not a primary key/],
    ['token TEXT', 'name TEXT PRIMARY KEY, holder TEXT, token TEXT, version INTEGER, renewed_at REAL, wait_interval_ms INTEGER', /column token \(type TEXT\) needs/],
    ['name INTEGER', 'name INTEGER PRIMARY KEY, holder TEXT, token INTEGER, version INTEGER, renewed_at REAL, wait_interval_ms INTEGER', /column name \(type INTEGER\) needs/],
  ])('%s', async (_label, columns, problem) => {
    const file = path.join(dir, `${uniqueTable('f')}.db`);
    const table = uniqueTable('shape');
    const raw = new Database(`${file}-lease`);
    raw.exec(`CREATE TABLE ${table} (${columns})`);
    raw.close();
    const store = sqliteStore(file, { table });
    try {
      await expectRefused(store, problem);
    } finally {
      await store.close();
    }
  }, 60_000);
});

describe('a wrong-shape fault that surfaces at run time is permanent, not retried', () => {
  it.each([['42883'], ['22003'], ['22001'], ['42P10']])('PostgreSQL SQLSTATE %s', (code) => {
    expect(asPermanentStoreError(Object.assign(new Error('x'), { code, table: 't' }), "lease 'l'")).toBeInstanceOf(StoreSchemaError);
  });
  it.each([[1264], [1406], [1054]])('MariaDB errno %s', (errno) => {
    expect(asPermanentStoreError(Object.assign(new Error('x'), { errno }), "lease 'l'")).toBeInstanceOf(StoreSchemaError);
  });
  it('a lost connection stays transient', () => {
    expect(asPermanentStoreError(Object.assign(new Error('x'), { code: 'ECONNRESET' }), "lease 'l'")).toBeUndefined();
  });
});
