import type { Dialect, LeaseStore } from '../lease/types.js';
import { ConfigurationError } from '../errors.js';
import { columnTypes, ensureSchemaRetrying, toNumber, upsertAdd } from '../node/sql-dialect.js';
import { RpcError, invalidParams } from '../node/rpc-error.js';
import type { HandlerContext, Handlers } from '../node/types.js';
import { sleep } from '../shared/sleep.js';
import { requireSqlIdentifier } from '../shared/validate.js';

/**
 * The conformance methods of docs/wire.md §11 for the reference node: what `runConformance`
 * (and `hotcold conformance <url>`) call to observe whether a call executed. A production node
 * does not have them unless the application registers this bundle:
 *
 * ```ts
 * const app = conformanceApp();
 * await app.setup(store);
 * const node = createNode({ lease, port: 8080, handlers: { ...myHandlers, ...app.handlers } });
 * ```
 *
 * Every method runs in the call's transaction like any handler, so a call the node answers "not
 * executed" leaves no trace in the counter table — which is what the kit checks.
 */

/** The method names of docs/wire.md §11 (a node under test exposes all of them). */
export const CONFORMANCE_METHODS = ['conformance.echo', 'conformance.counter', 'conformance.fail', 'conformance.append'] as const;

/** Longest `sleepMs` `conformance.counter` accepts (ms): a kit never needs more. */
export const MAX_CONFORMANCE_SLEEP_MS = 120_000;

/** Options of {@link conformanceApp}. */
export interface ConformanceAppOptions {
  /**
   * Table for the counters (SQL identifier, at most 55 characters).
   * @default 'hotcold_conformance'
   */
  table?: string;
}

/** The bundle: handlers to spread into `createNode({ handlers })`, and the table they use. */
export interface ConformanceApp {
  /** `conformance.echo`, `conformance.counter`, `conformance.fail`, `conformance.append`. */
  handlers: Handlers;
  /** The counter table's name. */
  table: string;
  /** The DDL `setup` runs when the table is missing, for a DBA to apply by hand. */
  ddl(dialect: Dialect): string[];
  /** Creates the counter table if absent (safe to race between processes). */
  setup(store: LeaseStore): Promise<void>;
}

/** `conformance.counter` params. */
export interface CounterParams {
  /** Counter name, 1..200 characters. */
  name: string;
  /** Added in the call's transaction; default 1 (0 reads). */
  add?: number;
  /** Waits this long after adding, before returning (ctx.signal aborts it); default 0. */
  sleepMs?: number;
}

function object(value: unknown): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw invalidParams('params must be an object');
  return value as Record<string, unknown>;
}

function text(name: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw invalidParams(`${name} must be a string of 1..200 characters`);
  return value;
}

function integer(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw invalidParams(`${name} must be an integer in ${min}..${max}`);
  return value;
}

/**
 * Creates the conformance bundle.
 *
 * @param options see {@link ConformanceAppOptions}
 * @throws ConfigurationError when `table` is not an SQL identifier of at most 55 characters
 * @example
 * ```ts
 * import { createLease, sqliteStore } from 'hotcold/lease';
 * import { createNode } from 'hotcold/node';
 * import { conformanceApp } from 'hotcold/testing';
 *
 * const store = sqliteStore('/tmp/conformance.db');
 * const lease = createLease({ store, machineName: 'conformance-1' });
 * const app = conformanceApp();
 * await app.setup(store);
 * const node = createNode({ lease, port: 0, handlers: app.handlers });
 * await node.start();
 * ```
 */
export function conformanceApp(options: ConformanceAppOptions = {}): ConformanceApp {
  const table = requireSqlIdentifier('table', options.table ?? 'hotcold_conformance');
  if (table.length > 55) throw new ConfigurationError('table', 'must be at most 55 characters');

  function ddl(dialect: Dialect): string[] {
    const t = columnTypes(dialect);
    return [
      `CREATE TABLE IF NOT EXISTS ${table} (
  name ${t.key} NOT NULL PRIMARY KEY,
  value ${t.bigint} NOT NULL
)${t.table}`,
    ];
  }

  async function setup(store: LeaseStore): Promise<void> {
    const [create = ''] = ddl(store.dialect);
    await ensureSchemaRetrying(store, [{ kind: 'table', name: table, columns: ['name', 'value'], create }], `hotcold-conformance:${table}`, () => undefined);
  }

  /** Returns its params as the result (`null` when there are none). */
  function echo(params: unknown): unknown {
    return params ?? null;
  }

  /** Adds `add` to counter `name` in the call's transaction, optionally waits, returns the new value. */
  async function counter(raw: unknown, ctx: HandlerContext): Promise<{ name: string; value: number }> {
    const p = object(raw);
    const name = text('name', p.name);
    const add = integer('add', p.add, 1, -1_000_000, 1_000_000);
    const sleepMs = integer('sleepMs', p.sleepMs, 0, 0, MAX_CONFORMANCE_SLEEP_MS);
    await ctx.tx.execute(upsertAdd(ctx.tx.dialect, table, 'name', 'value'), [name, add]);
    const rows = await ctx.tx.query(`SELECT value FROM ${table} WHERE name = ?`, [name]);
    const value = toNumber(rows[0]?.value);
    // Aborted when the caller's time is spent or the lease is lost: the transaction rolls back.
    if (sleepMs > 0) await sleep(sleepMs, ctx.signal);
    return { name, value };
  }

  /** Answers the JSON-RPC error `{code, message, data?}` it is given. */
  function fail(raw: unknown): never {
    const p = object(raw);
    const code = p.code;
    if (typeof code !== 'number' || !Number.isSafeInteger(code)) throw invalidParams('code must be an integer');
    const message = typeof p.message === 'string' ? p.message : 'conformance failure';
    throw new RpcError(code, message, p.data);
  }

  /** Appends `data` to feed `feed`; returns its sequence number. */
  async function append(raw: unknown, ctx: HandlerContext): Promise<{ seq: number }> {
    const p = object(raw);
    const feed = text('feed', p.feed);
    return { seq: await ctx.appendFeed(feed, p.data ?? null) };
  }

  return {
    handlers: {
      'conformance.echo': echo,
      'conformance.counter': counter,
      'conformance.fail': fail,
      'conformance.append': append,
    },
    table,
    ddl,
    setup,
  };
}
