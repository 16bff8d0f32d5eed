/**
 * `hotcold lease status|promote|release|init`: inspect and operate the leader lease. Every time
 * shown comes from the database's clock (the one clock the lease is judged on).
 *
 * Exit codes: 0 done; 1 database or runtime error; 2 bad usage; 3 refused (a live holder exists
 * and --force was not given, or --holder did not match).
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigurationError } from '../errors.js';
import { asFlagError, formatHelp, HELP_FLAG, parseFlags, type FlagSpecs } from './flags.js';
import { leasePathForOpenFile } from '../lease/stores/sqlite-lease-file.js';
import { ADMIN_STATEMENT_TIMEOUT_MS, ADMIN_TIMEOUT_MS, initLeaseTable, promoteLease, releaseLeaseHolder, leaseStatus, type LeaseStatusReport } from '../lease/admin.js';
import { sqlitePathOf, storeFromUrl } from '../lease/store-from-url.js';
import type { LeaseStore } from '../lease/types.js';
import { redactText, redactTyped } from '../shared/redact.js';
import { MAX_TIMER_DELAY_MS } from '../shared/timer.js';
import { requireNonEmptyString } from '../shared/validate.js';

/** The flags of `hotcold lease`. */
export const LEASE_FLAGS = {
  db: { type: 'string', value: 'URL', description: 'postgres://…, mysql://…, mariadb://…, sqlite:/path/file.db or a SQLite file path (status, promote and release never create a file)', default: '$HOTCOLD_DB' },
  name: { type: 'string', value: 'N', description: 'lease name', default: 'hotcold' },
  table: { type: 'string', value: 'T', description: 'lease table', default: 'hotcold_lease' },
  force: { type: 'boolean', description: "promote: clear the holder and bump the token even if it is live; the old holder's next renewal fails and it fences itself", default: 'off' },
  bump: { type: 'string', value: 'N', description: 'promote --force: raise the token by N (after a database failover that may have lost token increments)', default: '1' },
  holder: { type: 'string', value: 'H', description: 'release: only if the holder is H (holder id or machine name)', default: 'any holder' },
  print: { type: 'boolean', description: 'init: print the DDL instead of running it', default: 'off' },
  'timeout-ms': {
    type: 'string',
    value: 'MS',
    description:
      'bound of the whole action, connecting included: past it the action fails (exit 1) and says whether a change may have been applied (a commit waiting for an absent synchronous standby never answers)',
    default: String(ADMIN_TIMEOUT_MS),
  },
  json: { type: 'boolean', description: 'machine-readable output: one JSON object on stdout', default: 'off' },
  help: HELP_FLAG,
} as const satisfies FlagSpecs;

/** The option each flag sets, as storeFromUrl and the stores name it in a ConfigurationError. */
const LEASE_FLAG_OF: Readonly<Record<string, string>> = { db: '--db', connectionString: '--db', uri: '--db', database: '--db', table: '--table', name: '--name' };

const USAGE = formatHelp(
  'usage: hotcold lease <action> --db URL [options]',
  LEASE_FLAGS,
  `actions:
  status    holder, fencing token, age of the last renewal, time to expiry (database clock)
  promote   let a waiting node take over: clears an EXPIRED holder; refuses while a live holder
            exists (exit 3) unless --force
  release   clear the holder (optionally only if it is --holder H) and bump the token
  init      create the lease table if absent (--print: only print the DDL)`,
) + '\n\nexit codes: 0 ok, 1 error, 2 usage, 3 refused';

const REFUSED = 3;

/** The flags that belong to one action. */
const ACTION_OF_FLAG: Readonly<Record<string, string>> = { '--force': 'promote', '--bump': 'promote', '--holder': 'release', '--print': 'init' };

interface Flags {
  db: string;
  name: string;
  table: string | undefined;
  json: boolean;
  force: boolean;
  holder: string | undefined;
  bump: string | undefined;
  print: boolean;
  timeoutMs: string | undefined;
}

function seconds(ms: number): string {
  return `${(Math.abs(ms) / 1000).toFixed(ms !== 0 && Math.abs(ms) < 10_000 ? 2 : 1)} s`;
}

function describe(report: LeaseStatusReport, db: string): string {
  const lines = [`lease '${report.name}' in table ${report.table} (${report.dialect}, ${db})`];
  const replication = report.replication
    ? `${report.replication.mode}${report.replication.standbyConnected === false ? ', no standby connected: every commit waits until one is' : ''} (${report.replication.detail})`
    : `unknown${report.replicationError === undefined ? '' : ` (check failed: ${report.replicationError})`}`;
  if (!report.exists) {
    lines.push('  no lease row yet: no node has contended for this lease');
    lines.push(`  replication:   ${replication}`);
    return lines.join('\n');
  }
  lines.push(`  holder:        ${report.holder ?? 'none (free)'}`);
  const stale = report.tokenGeneration < report.generation ? ' — the database failed over since: the next engine waits out the old generation' : '';
  lines.push(`  token:         ${report.token} (failover generation ${report.tokenGeneration}; the database is in generation ${report.generation}${stale})`);
  lines.push(`  replication:   ${replication}`);
  if (report.holder !== null) {
    lines.push(`  last renewal:  ${seconds(report.ageMs)} ago (database clock)`);
    lines.push(
      report.live
        ? `  expires in:    ${seconds(report.expiresInMs)} (waitInterval ${report.waitIntervalMs} ms)`
        : `  expired:       ${seconds(report.expiresInMs)} ago: a standby may take over now`,
    );
  }
  return lines.join('\n');
}

function parse(argv: string[]): { action: string | undefined; flags: Flags; help: boolean } {
  const { values, positionals } = parseFlags(LEASE_FLAGS, argv, { positionals: true });
  if (positionals.length > 1) throw new ConfigurationError(redactTyped(positionals[1] ?? ''), 'is not expected here: one action at a time (see --help)');
  return {
    action: positionals[0],
    help: values.help === true,
    flags: {
      db: values.db ?? process.env.HOTCOLD_DB ?? '',
      name: values.name ?? 'hotcold',
      table: values.table,
      json: values.json === true,
      force: values.force === true,
      holder: values.holder,
      bump: values.bump,
      print: values.print === true,
      timeoutMs: values['timeout-ms'],
    },
  };
}

/**
 * A SQLite database named for an action that only reads or changes an existing lease must exist,
 * with its lease file: opening it would create empty files (and `--db` that is not a URL at all,
 * `db.example.com/app` say, would leave a stray file named after it).
 * @throws ConfigurationError naming `--db`.
 */
function requireExistingSqlite(db: string): void {
  const path = sqlitePathOf(db);
  if (path === undefined || path === ':memory:') return;
  if (!existsSync(path)) {
    throw new ConfigurationError(
      '--db',
      // A mistyped server URL (`postgres//u:pw@h/db`) lands here as a path: shown without its password.
      `no SQLite database file at '${redactTyped(resolve(path))}' (a server needs a URL: postgres://, mysql://, mariadb://; 'hotcold lease init' creates a SQLite file)`,
    );
  }
  const leaseFile = leasePathForOpenFile(path, false);
  if (!existsSync(leaseFile)) {
    throw new ConfigurationError('--db', `'${redactTyped(resolve(path))}' has no lease file ('${redactTyped(leaseFile)}'): no node has used it yet ('hotcold lease init' creates it)`);
  }
}

export async function runLeaseCommand(argv: string[]): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (error) {
    process.stderr.write(`hotcold lease: ${redactText((error as Error).message)}\n`);
    return 2;
  }
  const { action, flags, help } = parsed;
  if (help || action === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if (action === undefined || !['status', 'promote', 'release', 'init'].includes(action)) {
    // Echoed without a credential: a database URL typed where the action belongs.
    process.stderr.write(`hotcold lease: ${action === undefined ? 'missing action' : `unknown action '${redactTyped(action)}'`}\n\n${USAGE}\n`);
    return 2;
  }
  // Flags first: a bad flag is reported as such, before the database is looked at. A flag of
  // another action is refused, not ignored: `promote --holder A --force` would otherwise clear
  // whoever holds the lease, not "only A", and `release --force` read as a forced release.
  const given = { '--force': flags.force, '--bump': flags.bump !== undefined, '--holder': flags.holder !== undefined, '--print': flags.print };
  for (const [flag, isGiven] of Object.entries(given)) {
    const only = ACTION_OF_FLAG[flag];
    if (isGiven && only !== undefined && only !== action) {
      process.stderr.write(`hotcold lease: ${flag} is for '${only}' only, not '${action}' (see --help)\n`);
      return 2;
    }
  }
  if (action === 'promote' && flags.bump !== undefined && !flags.force) {
    process.stderr.write('hotcold lease: --bump needs --force\n');
    return 2;
  }
  // Digits only: Number() would take '1e3', '0x10', ' 5 ' and round past 2^53.
  if (action === 'promote' && flags.bump !== undefined && (!/^[1-9][0-9]{0,15}$/.test(flags.bump) || Number(flags.bump) > Number.MAX_SAFE_INTEGER)) {
    process.stderr.write(`hotcold lease: --bump must be a positive integer up to ${Number.MAX_SAFE_INTEGER}, in digits\n`);
    return 2;
  }
  // Digits only, as --bump; at most what a timer takes (2^31−1 ms).
  if (flags.timeoutMs !== undefined && (!/^[1-9][0-9]{0,9}$/.test(flags.timeoutMs) || Number(flags.timeoutMs) > MAX_TIMER_DELAY_MS)) {
    process.stderr.write(`hotcold lease: --timeout-ms must be a positive integer up to ${MAX_TIMER_DELAY_MS}, in digits\n`);
    return 2;
  }
  const timeoutMs = flags.timeoutMs === undefined ? ADMIN_TIMEOUT_MS : Number(flags.timeoutMs);
  let store: LeaseStore;
  try {
    requireNonEmptyString('--db', flags.db || undefined);
    requireNonEmptyString('--name', flags.name);
    if (action !== 'init') requireExistingSqlite(flags.db);
    // The operator bound covers opening the connection too, not only the statement.
    store = storeFromUrl(flags.db, { ...(flags.table === undefined ? {} : { table: flags.table }), connectTimeoutMs: Math.min(ADMIN_STATEMENT_TIMEOUT_MS, timeoutMs) });
  } catch (caught) {
    // The stores name their options (connectionString, table); the operator typed flags.
    const error = asFlagError(caught, LEASE_FLAG_OF);
    if (error instanceof ConfigurationError) {
      process.stderr.write(`hotcold lease: ${error.message}\n`);
      return 2;
    }
    throw error;
  }
  const db = redactTyped(flags.db);
  const out = (text: string, json: unknown): void => {
    process.stdout.write(flags.json ? `${JSON.stringify(json)}\n` : `${text}\n`);
  };
  try {
    switch (action) {
      case 'init': {
        if (flags.print) {
          out(`${store.ddl().join(';\n\n')};`, { table: store.table, dialect: store.dialect, ddl: store.ddl() });
          return 0;
        }
        await initLeaseTable(store, { timeoutMs });
        out(`lease table ${store.table} is ready (${store.dialect}, ${db})`, { table: store.table, dialect: store.dialect, created: true });
        return 0;
      }
      case 'status': {
        const report = await leaseStatus(store, flags.name, { timeoutMs });
        out(describe(report, db), { ...report, db });
        return 0;
      }
      case 'promote': {
        const bump = flags.bump === undefined ? 1 : Number(flags.bump);
        const result = await promoteLease(store, flags.name, { force: flags.force, bump, timeoutMs });
        const text: Record<typeof result.outcome, string> = {
          free: `lease '${flags.name}' is free: a waiting node acquires it on its own (token ${result.token})`,
          'cleared-stale': `cleared the expired holder ${result.previousHolder ?? ''}: a waiting node acquires at once`,
          'refused-live': `refused: ${result.previousHolder ?? ''} holds lease '${flags.name}' (expires in ${seconds(result.expiresInMs ?? 0)} unless renewed); use --force to take it away now`,
          forced: `forced: cleared holder ${result.previousHolder ?? 'none'} and bumped the token to ${result.token}; the old holder fences itself at its next renewal`,
        };
        out(text[result.outcome], { ...result, name: flags.name, db });
        return result.outcome === 'refused-live' ? REFUSED : 0;
      }
      case 'release': {
        const result = await releaseLeaseHolder(store, flags.name, flags.holder === undefined ? { timeoutMs } : { holder: flags.holder, timeoutMs });
        const text: Record<typeof result.outcome, string> = {
          free: `lease '${flags.name}' has no holder: nothing to release`,
          'not-holder': `refused: the holder is ${result.previousHolder ?? ''}, not ${flags.holder ?? ''}`,
          released: `released holder ${result.previousHolder ?? ''}; token bumped to ${result.token}`,
        };
        out(text[result.outcome], { ...result, name: flags.name, db });
        return result.outcome === 'not-holder' ? REFUSED : 0;
      }
    }
    return 2;
  } catch (error) {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`hotcold lease: ${error.message}\n`);
      return 2;
    }
    const message = redactText(error instanceof Error ? error.message : String(error));
    // The three drivers' ways of saying the table is missing.
    const missingTable = /does not exist|doesn't exist|no such table/i.test(message) && message.includes(store.table);
    const hint = missingTable ? `\n  the lease table does not exist yet: run 'hotcold lease init --db …' (or start a node)` : '';
    process.stderr.write(`hotcold lease ${action}: ${message} (${db})${hint}\n`);
    return 1;
  } finally {
    await store.close().catch(() => undefined);
  }
}
