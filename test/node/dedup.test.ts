import { describe } from 'vitest';
import { databaseAvailable, MYSQL_URL, PG_URL } from '../support/services.js';
import { dedupSuite } from './dedup-suite.js';

describe('idempotency on SQLite', () => dedupSuite(undefined));
describe.runIf(await databaseAvailable('postgres'))('idempotency on PostgreSQL', () => dedupSuite(PG_URL));
describe.runIf(await databaseAvailable('mysql'))('idempotency on MariaDB', () => dedupSuite(MYSQL_URL));
