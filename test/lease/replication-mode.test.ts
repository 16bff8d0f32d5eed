/**
 * Pure parts of the replication work: how a store's answer is judged (every mode, every input
 * shape), how a token's generation and the row's holder decide a fence, and the option's
 * validation. The behaviour on real replicated servers: test/lease/replication/failover.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createLease, FencingError, GENERATION_SPAN, sqliteStore, tokenGeneration } from 'hotcold/lease';
import { requireCurrent, requireIssuableToken } from '../../src/lease/record.js';
import { judgeReplication } from '../../src/lease/replication-mode.js';
import { TokenExhaustedError } from '../../src/lease/errors.js';

const pgRow = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
  synchronous_commit: 'on',
  synchronous_standby_names: '',
  wal_level: 'replica',
  in_recovery: false,
  standbys: '1',
  sync_standbys: '0',
  generation: '0',
  ...over,
});

describe('judgeReplication (PostgreSQL)', () => {
  it('synchronous only with synchronous_standby_names set AND a waiting synchronous_commit', () => {
    for (const level of ['on', 'remote_write', 'remote_apply']) {
      expect(judgeReplication('postgres', pgRow({ synchronous_commit: level, synchronous_standby_names: '*', sync_standbys: '1' })).mode).toBe('synchronous');
    }
    for (const level of ['off', 'local']) {
      expect(judgeReplication('postgres', pgRow({ synchronous_commit: level, synchronous_standby_names: '*' })).mode).toBe('asynchronous');
    }
    expect(judgeReplication('postgres', pgRow()).mode).toBe('asynchronous');
    expect(judgeReplication('postgres', pgRow({ standbys: '0' })).mode).toBe('asynchronous');
    expect(judgeReplication('postgres', pgRow({ synchronous_standby_names: '   ' })).mode).toBe('asynchronous');
  });
  it('says when commits wait for a synchronous standby that is not there', () => {
    const info = judgeReplication('postgres', pgRow({ synchronous_standby_names: 'FIRST 1 (s1)', sync_standbys: '0' }));
    expect(info.mode).toBe('synchronous');
    expect(info.detail).toContain('commits wait until one is');
  });
  it('none for wal_level=minimal; unknown on a standby and for no row; carries the generation', () => {
    expect(judgeReplication('postgres', pgRow({ wal_level: 'minimal' })).mode).toBe('none');
    expect(judgeReplication('postgres', pgRow({ in_recovery: true, generation: null })).mode).toBe('unknown');
    expect(judgeReplication('postgres', undefined).mode).toBe('unknown');
    expect(judgeReplication('postgres', pgRow({ generation: '3' })).generation).toBe(3);
  });
});

describe('judgeReplication (MariaDB, SQLite)', () => {
  const row = (over: Record<string, unknown> = {}): Record<string, unknown> => ({
    log_bin: 1,
    semi_sync_status: 'OFF',
    semi_sync_clients: '0',
    semi_sync_wait_point: 'AFTER_SYNC',
    semi_sync_timeout: '10000',
    generation: '0',
    ...over,
  });
  it('synchronous only while semi-synchronous replication is ON with a replica', () => {
    expect(judgeReplication('mysql', row({ semi_sync_status: 'ON', semi_sync_clients: '1' })).mode).toBe('synchronous');
    expect(judgeReplication('mysql', row({ semi_sync_status: 'ON', semi_sync_clients: '0' })).mode).toBe('asynchronous');
    expect(judgeReplication('mysql', row()).mode).toBe('asynchronous');
    // MySQL 8 without the plugin: the status rows are absent.
    expect(judgeReplication('mysql', row({ semi_sync_status: null, semi_sync_clients: null, semi_sync_wait_point: null })).mode).toBe('asynchronous');
  });
  it('none without a binary log; the generation is gtid_domain_id; SQLite is never replicated', () => {
    expect(judgeReplication('mysql', row({ log_bin: 0 })).mode).toBe('none');
    expect(judgeReplication('mysql', row({ generation: '2' })).generation).toBe(2);
    expect(judgeReplication('sqlite', undefined)).toEqual({ mode: 'none', generation: 0, detail: 'SQLite is not replicated (one host)' });
  });
});

describe('fencing with generations and holders', () => {
  const row = (over: Record<string, unknown>): Record<string, unknown> => ({
    holder: 'a#1',
    token: 1,
    version: 1,
    renewed_at: 1000,
    wait_interval_ms: 500,
    now_ms: 1100,
    generation: 0,
    ...over,
  });
  it('tokens carry their generation in the high bits and stay safe integers', () => {
    expect(tokenGeneration(1)).toBe(0);
    expect(tokenGeneration(GENERATION_SPAN + 1)).toBe(1);
    expect(Number.isSafeInteger((2 ** 21 - 1) * GENERATION_SPAN + GENERATION_SPAN - 1)).toBe(true);
  });
  it('a token of an older generation is stale even if the row still shows it', () => {
    expect(() => requireCurrent('l', 5, row({ token: 5, generation: 1 }))).toThrow(/failed over to generation 1/);
    expect(() => requireCurrent('l', GENERATION_SPAN + 1, row({ token: GENERATION_SPAN + 1, generation: 1 }))).not.toThrow();
  });
  it('the row must name the caller when a holder is given', () => {
    expect(() => requireCurrent('l', 1, row({}), 'b#2')).toThrow(FencingError);
    expect(() => requireCurrent('l', 1, row({}), 'b#2')).toThrow(/names another holder/);
    expect(() => requireCurrent('l', 1, row({}), 'a#1')).not.toThrow();
    expect(() => requireCurrent('l', 1, row({}))).not.toThrow();
  });
  it('a token past its generation is never issued', () => {
    expect(() => requireIssuableToken('l', 2 * GENERATION_SPAN - 1, 1, 1)).toThrow(TokenExhaustedError);
    expect(requireIssuableToken('l', GENERATION_SPAN, 1, 1)).toBe(GENERATION_SPAN + 1);
  });
});

describe('requireSynchronousReplication', () => {
  it('must be a boolean (ConfigurationError naming the field); SQLite refuses with it', async () => {
    const store = sqliteStore(':memory:');
    expect(() => createLease({ store, machineName: 'm', requireSynchronousReplication: 'yes' as unknown as boolean })).toThrow(ConfigurationError);
    expect(() => createLease({ store, machineName: 'm', requireSynchronousReplication: 'yes' as unknown as boolean })).toThrow(/requireSynchronousReplication/);
    const lease = createLease({ store, machineName: 'm', requireSynchronousReplication: true, updateInterval: 100, waitInterval: 500 });
    await expect(lease.acquire()).rejects.toMatchObject({ name: 'ReplicationModeError', fault: 'replication' });
    await lease.close();
    const plain = createLease({ store, machineName: 'm', updateInterval: 100, waitInterval: 500 });
    await plain.acquire();
    expect(plain.state.replication?.mode).toBe('none');
    await plain.close();
    await store.close();
  });
});
