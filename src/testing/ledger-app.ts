import type { Dialect, LeaseStore, SqlExecutor } from '../lease/types.js';
import { columnTypes, ensureSchemaRetrying, toNumber, toText, upsertAdd } from '../node/sql-dialect.js';
import { invalidParams } from '../node/rpc-error.js';
import type { HandlerContext, Handlers } from '../node/types.js';
import { ConfigurationError } from '../errors.js';
import { requireSqlIdentifier } from '../shared/validate.js';

/**
 * The demo/e2e application: a ledger of transfers. `transfer` is deliberately NOT idempotent
 * (each execution writes a new ledger row and moves money), so a call executed twice shows up
 * as two rows with the same `ref`. Each row also stores the request's `Idempotency-Key` under a
 * unique index: a dedup failure cannot even commit. Checking "every acknowledged call exactly
 * once, none twice" is then a query on the ledger table ({@link readLedger}).
 */

export interface LedgerAppOptions {
  /**
   * Table prefix: tables `<prefix>_entries` and `<prefix>_accounts` (an SQL identifier, at most 50 characters).
   * @default 'ledger'
   */
  prefix?: string;
  /**
   * Name of the feed transfers are appended to.
   * @default 'ledger'
   */
  feed?: string;
}

/** One row of the ledger table, as {@link readLedger} returns it. */
export interface LedgerEntry {
  /** The row's id, in insertion order. */
  id: number;
  /** The caller's reference of the transfer (the same on a call executed twice). */
  ref: string;
  /** The request's `Idempotency-Key` (unique in the table), `null` when it had none. */
  idemKey: string | null;
  /** The debited account. */
  from: string;
  /** The credited account. */
  to: string;
  /** The amount moved (a positive integer). */
  amount: number;
  /** The fencing token of the lease term it was written under. */
  token: number;
}

/** Params of the ledger's `transfer` method. */
export interface TransferParams {
  /** The debited account (1..200 characters). */
  from: string;
  /** The credited account (1..200 characters). */
  to: string;
  /** The amount, a positive integer. */
  amount: number;
  /** Your reference of the transfer (1..200 characters), to find it in the ledger. */
  ref: string;
}

/** The ledger's handlers and tables (see {@link ledgerApp}). */
export interface LedgerApp {
  /** `transfer` (not idempotent), `balance` and `ping`, for `createNode({ handlers })`. */
  handlers: Handlers;
  /** `<prefix>_entries`. */
  entriesTable: string;
  /** `<prefix>_accounts`. */
  accountsTable: string;
  /** The feed `transfer` appends to. */
  feed: string;
  /** The `CREATE TABLE IF NOT EXISTS` statements for `dialect`. */
  ddl(dialect: Dialect): string[];
  /** Creates the tables if absent (safe to race between processes). */
  setup(store: LeaseStore): Promise<void>;
}

function requireText(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw invalidParams(`${name} must be a string of 1..200 characters`);
  return value;
}

function params(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParams('params must be an object');
  return value as Record<string, unknown>;
}

/**
 * The demo and end-to-end ledger: `transfer` writes a ledger row keyed by the request's
 * idempotency key and appends to the feed (deliberately not idempotent, so a call executed twice
 * shows as two rows), `balance` and `ping`. {@link readLedger} reads the rows back.
 *
 * @param options - Table prefix and feed name; see {@link LedgerAppOptions}.
 * @throws {ConfigurationError} `prefix` when it is not an SQL identifier of at most 50 characters.
 * @example
 * ```ts
 * import { createLease, sqliteStore } from 'hotcold/lease';
 * import { createNode } from 'hotcold/node';
 * import { ledgerApp } from 'hotcold/testing';
 *
 * const store = sqliteStore('/tmp/ledger.db');
 * const app = ledgerApp();
 * await app.setup(store);
 * const lease = createLease({ store, machineName: 'node-a', mode: 'warm' });
 * const node = createNode({ lease, handlers: app.handlers, port: 0 });
 * await node.start();
 * await node.stop();
 * ```
 */
export function ledgerApp(options: LedgerAppOptions = {}): LedgerApp {
  const prefix = requireSqlIdentifier('prefix', options.prefix ?? 'ledger');
  if (prefix.length > 50) throw new ConfigurationError('prefix', 'must be at most 50 characters');
  const feed = options.feed ?? 'ledger';
  const entriesTable = `${prefix}_entries`;
  const accountsTable = `${prefix}_accounts`;

  function ddl(dialect: Dialect): string[] {
    const t = columnTypes(dialect);
    const id =
      dialect === 'sqlite'
        ? 'id INTEGER PRIMARY KEY AUTOINCREMENT'
        : dialect === 'postgres'
          ? 'id BIGSERIAL PRIMARY KEY'
          : 'id BIGINT AUTO_INCREMENT PRIMARY KEY';
    return [
      `CREATE TABLE IF NOT EXISTS ${entriesTable} (
  ${id},
  ref ${t.key} NOT NULL,
  idem_key ${t.key} NULL UNIQUE,
  from_account ${t.key} NOT NULL,
  to_account ${t.key} NOT NULL,
  amount ${t.bigint} NOT NULL,
  token ${t.bigint} NOT NULL
)${t.table}`,
      `CREATE TABLE IF NOT EXISTS ${accountsTable} (
  account ${t.key} NOT NULL PRIMARY KEY,
  balance ${t.bigint} NOT NULL
)${t.table}`,
    ];
  }

  async function setup(store: LeaseStore): Promise<void> {
    // Catalog first, DDL only for a missing table (see src/lease/schema.ts): a node starting next
    // to a busy one takes no DDL lock, and a user without CREATE can run on tables a DBA made.
    const [entries = '', accounts = ''] = ddl(store.dialect);
    await ensureSchemaRetrying(
      store,
      [
        { kind: 'table', name: entriesTable, columns: ['id', 'ref', 'idem_key', 'from_account', 'to_account', 'amount', 'token'], create: entries },
        { kind: 'table', name: accountsTable, columns: ['account', 'balance'], create: accounts },
      ],
      `hotcold-ledger:${prefix}`,
      () => undefined,
    );
  }

  async function transfer(raw: unknown, ctx: HandlerContext): Promise<{ ref: string; id: number; seq: number; token: number }> {
    const p = params(raw);
    const from = requireText('from', p.from);
    const to = requireText('to', p.to);
    const ref = requireText('ref', p.ref);
    const amount = p.amount;
    if (typeof amount !== 'number' || !Number.isSafeInteger(amount) || amount <= 0) throw invalidParams('amount must be a positive integer');
    const { tx } = ctx;
    const insert = `INSERT INTO ${entriesTable} (ref, idem_key, from_account, to_account, amount, token) VALUES (?, ?, ?, ?, ?, ?)`;
    const values = [ref, ctx.idempotencyKey ?? null, from, to, amount, ctx.token];
    let idRows: Record<string, unknown>[];
    if (tx.dialect === 'mysql') {
      await tx.execute(insert, values);
      idRows = await tx.query('SELECT LAST_INSERT_ID() AS id');
    } else {
      idRows = await tx.query(`${insert} RETURNING id`, values);
    }
    await tx.execute(upsertAdd(tx.dialect, accountsTable, 'account', 'balance'), [from, -amount]);
    await tx.execute(upsertAdd(tx.dialect, accountsTable, 'account', 'balance'), [to, amount]);
    const seq = await ctx.appendFeed(feed, { ref, from, to, amount });
    return { ref, id: toNumber(idRows[0]?.id), seq, token: ctx.token };
  }

  async function balance(raw: unknown, ctx: HandlerContext): Promise<{ account: string; balance: number }> {
    const account = requireText('account', params(raw).account);
    const rows = await ctx.tx.query(`SELECT balance FROM ${accountsTable} WHERE account = ?`, [account]);
    return { account, balance: rows[0] ? toNumber(rows[0].balance) : 0 };
  }

  function ping(_raw: unknown, ctx: HandlerContext): { pong: true; token: number } {
    return { pong: true, token: ctx.token };
  }

  return {
    handlers: { transfer, balance, ping },
    entriesTable,
    accountsTable,
    feed,
    ddl,
    setup,
  };
}

/** Every ledger row, in id order, for exactly-once checks. */
export async function readLedger(store: LeaseStore | SqlExecutor, prefix = 'ledger'): Promise<LedgerEntry[]> {
  const table = `${requireSqlIdentifier('prefix', prefix)}_entries`;
  const sql = `SELECT id, ref, idem_key, from_account, to_account, amount, token FROM ${table} ORDER BY id`;
  const rows = 'transaction' in store ? await store.transaction((tx) => tx.query(sql)) : await store.query(sql);
  return rows.map((r) => ({
    id: toNumber(r.id),
    ref: toText(r.ref),
    idemKey: r.idem_key === null || r.idem_key === undefined ? null : toText(r.idem_key),
    from: toText(r.from_account),
    to: toText(r.to_account),
    amount: toNumber(r.amount),
    token: toNumber(r.token),
  }));
}
