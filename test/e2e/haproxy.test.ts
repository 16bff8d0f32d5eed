/**
 * End to end through real HAProxy from the shipped config: the shared failover suite
 * (test/e2e/failover-suite.ts) with its ledger check after each fault.
 */
import { findHaproxy } from '../../src/cli/demo/haproxy.js';
import { databaseAvailable } from '../support/services.js';
import { balancerBinaryAvailable, describeFailoverSuite } from './failover-suite.js';

const binary = balancerBinaryAvailable('haproxy', findHaproxy());
const postgres = await databaseAvailable('postgres');

describeFailoverSuite({ lb: 'haproxy', title: 'HAProxy', available: binary && postgres });
