/**
 * `hotcold/lease`: the leader lease that decides which node is hot. A row lease judged on the
 * database's clock, with a fencing token and self-fencing; `cold` (manual promotion) and `warm`
 * (automatic takeover) modes. Guide: docs/lease.md.
 *
 * @module hotcold/lease
 */
export { ConfigurationError } from '../errors.js';
export type * from './types.js';
export type { TelemetryOptions } from '../shared/telemetry.js';
export { createLease } from './lease.js';
export { systemClock, type LeaseClock, type TimerHandle } from './clock.js';
export { sqliteStore, type SqliteStoreOptions } from './stores/sqlite.js';
export { postgresStore, type PostgresStoreOptions } from './stores/postgres.js';
export { mysqlStore, type MysqlStoreOptions } from './stores/mysql.js';
export type { SqlLeaseStore } from './stores/base.js';
export type { LeaseSql } from './sql.js';
export type { SqliteDatabaseLike, PgPoolLike, MysqlPoolLike } from './stores/driver-shapes.js';
export { storeFromUrl, type StoreFromUrlOptions } from './store-from-url.js';
export {
  LeaseError,
  LeaseLostError,
  FencingError,
  LeaseClosedError,
  DriverMissingError,
  StoreConfigurationError,
  StoreAuthenticationError,
  DatabaseMissingError,
  StoreSchemaError,
  StorePrivilegeError,
  TokenExhaustedError,
  ReplicationModeError,
  LeaseAdminTimeoutError,
  type StoreFault,
  LeaseTimeoutError,
  TransientStoreError,
  StoreBusyError,
  TransactionAbandonedError,
  TransactionRolledBackError,
  TransactionControlError,
  CommitAbandonedError,
  type LeaseLostReason,
} from './errors.js';
export { tokenGeneration, GENERATION_SPAN, GENERATION_HOLDER } from './generation.js';
export { selfFencingSpan, CLOCK_DRIFT, FIXED_MARGIN_MS } from './self-fencing.js';
export { promoteLease, releaseLeaseHolder, leaseStatus, initLeaseTable, type LeaseAdminOptions, type PromoteResult, type LeaseStatusReport, type ReleaseHolderResult } from './admin.js';
export type { Logger, LogLevel } from '../shared/logger.js';
