import { describe, expect, it } from 'vitest';
import { ConfigurationError, storeFromUrl } from '../../src/lease/index.js';
import { toPgPlaceholders } from '../../src/lease/stores/placeholders.js';
import { loadDriver } from '../../src/lease/stores/load-driver.js';
import { DriverMissingError } from '../../src/lease/errors.js';

describe('storeFromUrl', () => {
  it.each([
    ['postgres://u:p@h:5432/db', 'postgres'],
    ['postgresql://h/db', 'postgres'],
    ['mysql://root@h:3306/test', 'mysql'],
    ['mariadb://root@h/test', 'mysql'],
    ['sqlite:/tmp/x.db', 'sqlite'],
    ['sqlite:///tmp/x.db', 'sqlite'],
    ['sqlite:rel.db', 'sqlite'],
    ['/var/lib/hotcold/lease.db', 'sqlite'],
    ['lease.db', 'sqlite'],
  ])('%s → %s (opens nothing until used)', async (url, dialect) => {
    const store = storeFromUrl(url, { table: 'my_lease' });
    expect(store.dialect).toBe(dialect);
    expect(store.table).toBe('my_lease');
    expect(store.ddl()[0]).toContain('CREATE TABLE IF NOT EXISTS my_lease');
    await store.close();
  });

  it('rejects unknown schemes, empty URLs and bad tables, never echoing credentials', () => {
    expect(() => storeFromUrl('ftp://user:pw-sekrit@x/y')).toThrow(ConfigurationError);
    try {
      storeFromUrl('ftp://user:pw-sekrit@x/y');
    } catch (error) {
      expect((error as Error).message).not.toContain('pw-sekrit');
    }
    expect(() => storeFromUrl('')).toThrow(ConfigurationError);
    expect(() => storeFromUrl('sqlite:')).toThrow(ConfigurationError);
    expect(() => storeFromUrl('postgres://h/db', { table: 'x;drop' })).toThrow(/table/);
  });
});

describe('placeholders and drivers', () => {
  it('rewrites ? to $n outside quotes and comments', () => {
    expect(toPgPlaceholders("SELECT ? , '?' , \"a?\" , ? -- ?\n, ?", 3)).toBe("SELECT $1 , '?' , \"a?\" , $2 -- ?\n, $3");
  });

  it('names the npm package when a driver is missing', async () => {
    const error = await loadDriver('hotcold-no-such-driver', 'testStore').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DriverMissingError);
    expect((error as Error).message).toContain('npm install hotcold-no-such-driver');
  });
});
