/**
 * How the lease database replicates its commits (see `ReplicationMode` in types.ts): the query
 * each dialect runs and the pure judgement of its answer (unit-tested on every input shape in
 * test/lease/replication-mode.test.ts, against real servers in test/lease/replication).
 *
 * The question is whether a commit the engine saw acknowledged — a takeover, a renewal, a fenced
 * write — is on a standby before the acknowledgement. Only then does a promoted standby know
 * every token issued and every renewal that extended a holder's deadline.
 */
import { generationSql } from './generation.js';
import type { Dialect, ReplicationInfo } from './types.js';

/** Synchronous commit levels under which a commit waits for a synchronous standby. */
const PG_WAITING_LEVELS = new Set(['on', 'remote_write', 'remote_apply']);

/** The statement that reads what {@link judgeReplication} needs; undefined where there is none (SQLite). */
export function replicationSql(dialect: Dialect): string | undefined {
  switch (dialect) {
    case 'postgres':
      // Settings as THIS session sees them (a role or database may override synchronous_commit).
      // pg_stat_replication lists standbys to any user; sync_state needs pg_read_all_stats.
      return `SELECT current_setting('synchronous_commit') AS synchronous_commit,
  current_setting('synchronous_standby_names') AS synchronous_standby_names,
  current_setting('wal_level') AS wal_level,
  pg_is_in_recovery() AS in_recovery,
  (SELECT count(*) FROM pg_stat_replication) AS standbys,
  (SELECT count(*) FROM pg_stat_replication WHERE sync_state IN ('sync', 'quorum')) AS sync_standbys,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE ${generationSql('postgres')} END AS generation`;
    case 'mysql':
      return `SELECT @@log_bin AS log_bin,
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_STATUS') AS semi_sync_status,
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_CLIENTS') AS semi_sync_clients,
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_WAIT_POINT') AS semi_sync_wait_point,
  (SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_VARIABLES WHERE VARIABLE_NAME = 'RPL_SEMI_SYNC_MASTER_TIMEOUT') AS semi_sync_timeout,
  ${generationSql('mysql')} AS generation`;
    case 'sqlite':
      return undefined;
  }
}

// A database cell is a string, number, bigint or Buffer here, never a plain object.
// eslint-disable-next-line @typescript-eslint/no-base-to-string
const text = (value: unknown): string => (value === null || value === undefined ? '' : String(value));
const count = (value: unknown): number => {
  const n = Number(value);
  return Number.isFinite(n) ? n : 0;
};
const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/** Judges the row {@link replicationSql} returned (none: SQLite). */
export function judgeReplication(dialect: Dialect, row: Record<string, unknown> | undefined): ReplicationInfo {
  if (dialect === 'sqlite') return { mode: 'none', generation: 0, detail: 'SQLite is not replicated (one host)' };
  if (row === undefined) return { mode: 'unknown', generation: 0, detail: 'the replication query returned no row' };
  if (dialect === 'postgres') {
    const level = text(row.synchronous_commit);
    const names = text(row.synchronous_standby_names).trim();
    const standbys = count(row.standbys);
    const sync = count(row.sync_standbys);
    const generation = row.generation === null || row.generation === undefined ? 0 : count(row.generation);
    const settings = `synchronous_commit=${level}, synchronous_standby_names='${names}', ${plural(standbys, 'standby')} streaming (${sync} synchronous)`;
    if (row.in_recovery === true || text(row.in_recovery) === 't') {
      return { mode: 'unknown', generation, detail: `this server is a standby (in recovery): leases live on the primary; ${settings}` };
    }
    if (text(row.wal_level) === 'minimal') return { mode: 'none', generation, detail: `wal_level=minimal: this server cannot have standbys; ${settings}` };
    if (names !== '' && PG_WAITING_LEVELS.has(level)) {
      const waiting = sync === 0 ? '; no synchronous standby is connected, so commits wait until one is' : '';
      return { mode: 'synchronous', generation, detail: `${settings}${waiting}`, standbyConnected: sync > 0 };
    }
    return { mode: 'asynchronous', generation, detail: settings };
  }
  const logBin = count(row.log_bin) === 1 || text(row.log_bin).toUpperCase() === 'ON';
  const status = text(row.semi_sync_status).toUpperCase();
  const clients = count(row.semi_sync_clients);
  const waitPoint = text(row.semi_sync_wait_point).toUpperCase();
  const generation = count(row.generation);
  const settings = `log_bin=${logBin ? 'ON' : 'OFF'}, gtid_domain_id=${generation}, Rpl_semi_sync_master_status=${status || '(absent)'}, ${plural(clients, 'semi-synchronous replica')}, rpl_semi_sync_master_wait_point=${waitPoint || '(absent)'}, rpl_semi_sync_master_timeout=${text(row.semi_sync_timeout) || '(absent)'} ms`;
  if (!logBin) return { mode: 'none', generation, detail: `no binary log: this server cannot have replicas; ${settings}` };
  if (status === 'ON' && clients > 0) {
    // Semi-sync falls back to asynchronous by itself after rpl_semi_sync_master_timeout without
    // an acknowledgement: this is what holds NOW (re-checked after every failure).
    return { mode: 'synchronous', generation, detail: settings, standbyConnected: true };
  }
  return { mode: 'asynchronous', generation, detail: settings };
}
