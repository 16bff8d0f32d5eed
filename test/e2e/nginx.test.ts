/**
 * End to end through real nginx (open source, the Debian package) from the shipped
 * examples/nginx/nginx.conf, ports rewritten only: the shared failover suite
 * (test/e2e/failover-suite.ts) plus "the killed node comes back as the standby", which nginx,
 * lacking active health checks, must survive on passive failure marking and the client's retries.
 */
import { findNginx } from '../../src/cli/demo/nginx.js';
import { databaseAvailable } from '../support/services.js';
import { balancerBinaryAvailable, describeFailoverSuite } from './failover-suite.js';

const binary = balancerBinaryAvailable('nginx', findNginx());
const postgres = await databaseAvailable('postgres');

// After the rejoin, 3 s of load: nginx lets a failed server try again after fail_timeout (1 s,
// counted in whole seconds: up to 2 s), so the rejoined standby is surely offered calls.
describeFailoverSuite({ lb: 'nginx', title: 'nginx', available: binary && postgres, rejoin: { afterMs: 3000 } });
