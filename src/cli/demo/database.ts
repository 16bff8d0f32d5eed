import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';
import type Pg from 'pg';
import { loadDriver } from '../../lease/stores/load-driver.js';
import { redactUrl } from '../../shared/redact.js';

/**
 * A throwaway database for one demo/test/bench run, so runs never share tables: an SQLite file in
 * a fresh temp folder, or a fresh PostgreSQL database created next to the one the URL names (and
 * dropped, with its connections, at the end).
 */
export interface RunDatabase {
  kind: 'sqlite' | 'postgres';
  /** The URL the nodes get with `--db`. */
  url: string;
  /** For messages: the URL without credentials. */
  display: string;
  /** Runs a read-only query (for the ledger check). */
  query<R extends Record<string, unknown>>(sql: string): Promise<R[]>;
  dispose(): Promise<void>;
}

export function sqliteUrl(file: string): string {
  return `sqlite:${file}`;
}

export async function createSqliteDatabase(): Promise<RunDatabase> {
  // The optional peer the nodes need too: without it, the typed error naming the package to
  // install, before any node is started (a node would only exit with it among its output).
  const Database = await loadDriver<typeof BetterSqlite3>('better-sqlite3', 'hotcold demo (SQLite, its default database)');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-demo-'));
  const file = path.join(dir, 'lease.db');
  const url = sqliteUrl(file);
  return {
    kind: 'sqlite',
    url,
    display: url,
    async query<R extends Record<string, unknown>>(sql: string): Promise<R[]> {
      const db = new Database(file, { readonly: true, fileMustExist: true });
      try {
        db.pragma('busy_timeout = 5000');
        return db.prepare(sql).all() as R[];
      } finally {
        db.close();
      }
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Creates `hotcold_run_<random>` on the server `baseUrl` points at. `baseUrl` may carry
 * credentials; they are passed on to the nodes and never printed.
 */
export async function createPostgresDatabase(baseUrl: string): Promise<RunDatabase> {
  const pg = await loadDriver<typeof Pg>('pg', 'hotcold demo --db postgres://…');
  const name = `hotcold_run_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const target = new URL(baseUrl);
  target.pathname = `/${name}`;
  const url = target.toString();
  return {
    kind: 'postgres',
    url,
    display: redactUrl(url),
    async query<R extends Record<string, unknown>>(sql: string): Promise<R[]> {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        return (await client.query(sql)).rows as R[];
      } finally {
        await client.end();
      }
    },
    async dispose() {
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}
