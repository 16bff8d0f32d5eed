/**
 * One clock: expiry is judged on the database server's clock. On MariaDB a SESSION can move that
 * clock: `SET timestamp = …` (used to replay data, or in tests) makes `UTC_TIMESTAMP()` and
 * `NOW()` of that session return the value set — and a pooled connection keeps it when it goes
 * back to the pool. A store on the application's pool may then renew on such a connection.
 *
 * Found by attacking the lease: with the holder's pool connection set an hour back, its renewal
 * succeeded and stamped `renewed_at` an hour in the past; a standby on another connection saw the
 * lease expired and took over at once while the holder's `isValid()` was still true — two
 * holders, for up to `updateInterval`. Set forward, the row would never expire after a crash.
 */
import mysql from 'mysql2/promise';
import { describe, expect, it } from 'vitest';
import { createLease, mysqlStore } from '../../src/lease/index.js';
import { MYSQL_URL, databaseAvailable } from '../support/services.js';
import { delay, uniqueTable } from './helpers.js';

const available = await databaseAvailable('mysql');
const isMariadb = available && (await (async () => {
  const conn = await mysql.createConnection(MYSQL_URL);
  try {
    const [rows] = await conn.query('SELECT VERSION() AS v');
    return /mariadb/i.test(String((rows as Array<{ v: unknown }>)[0]?.v));
  } finally {
    await conn.end();
  }
})());

describe.runIf(isMariadb)('a session clock moved with SET timestamp (MariaDB)', () => {
  it.each([
    ['an hour back', -3600],
    ['an hour ahead', 3600],
  ])('on the holder\'s pooled connection (%s): never two holders, and the row expires on the server\'s real clock', async (_, shiftSeconds) => {
    const table = uniqueTable();
    // The application's pool of one: every statement of the store runs on the connection the
    // application moved the clock of.
    const pool = mysql.createPool({ uri: MYSQL_URL, connectionLimit: 1 });
    const holderStore = mysqlStore(pool, { table });
    const standbyStore = mysqlStore(MYSQL_URL, { table });
    const options = { updateInterval: 100, waitInterval: 1000, mode: 'cold' as const };
    const holder = createLease({ store: holderStore, machineName: 'holder', ...options });
    const standby = createLease({ store: standbyStore, machineName: 'standby', ...options });
    let overlaps = 0;
    let sampler: NodeJS.Timeout | undefined;
    try {
      const held = await holder.acquire();
      await pool.query(`SET timestamp = UNIX_TIMESTAMP() + ${shiftSeconds}`);
      const taken = standby.acquire();
      taken.catch(() => undefined);
      sampler = setInterval(() => {
        if (held.isValid() && standby.current?.isValid() === true) overlaps += 1;
      }, 1);
      // Several renewals on the moved connection.
      await delay(1500);
      expect(overlaps, 'samples with both isValid() true').toBe(0);
      if (shiftSeconds < 0) {
        // The holder is alive and renewing: the standby must still be waiting.
        expect(standby.current).toBeUndefined();
        expect(held.isValid()).toBe(true);
      }
      // Were the holder to crash now, the row must expire within waitInterval by the real clock.
      const row = await standbyStore.read(holder.name);
      expect(row?.holder).toBe(holder.holderId);
      expect(row?.expiresInMs ?? 0, 'expiry left on the server clock').toBeLessThanOrEqual(options.waitInterval);
    } finally {
      if (sampler) clearInterval(sampler);
      await holder.close().catch(() => undefined);
      await standby.close().catch(() => undefined);
      await holderStore.close();
      await standbyStore.run(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
      await standbyStore.close();
      await pool.end();
    }
  }, 30_000);
});
