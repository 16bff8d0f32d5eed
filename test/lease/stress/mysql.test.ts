import { describe, it } from 'vitest';
import { databaseAvailable } from '../../support/services.js';
import { expectSafe, runAndPrint, STRESS_SECONDS } from './support.js';

const hasMysql = await databaseAvailable('mysql');

describe.runIf(hasMysql)('lease stress on MariaDB (5 real contender processes, random faults incl. KILL, locks, restarting standbys, frozen start-up)', () => {
  it('never lets two holders serve at once, and the fence and counter agree', async () => {
    const report = await runAndPrint({ store: 'mysql', seconds: STRESS_SECONDS, includeStartup: true });
    expectSafe(report, 2);
  }, 240_000);
});
