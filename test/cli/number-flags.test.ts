/**
 * Number flags of the `hotcold` commands take what the operator would write and nothing else:
 * decimal digits (a fraction where the flag allows one), within the flag's range. `Number()` took
 * `0x10`, `1e1`, ` 4`, `4.0` and `+4`, so a mistyped value ran the demo with 16 callers, or the
 * conformance kit with a timer that cannot be set; and a demo `--db` that pg cannot parse was a
 * run that failed (exit 1, "Invalid URL") instead of a usage error naming --db.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../src/errors.js';
import { parseConformanceArgs } from '../../src/cli/conformance-command.js';
import { parseDemoArgs } from '../../src/cli/demo/demo-args.js';
import { decimalFlag, integerFlag } from '../../src/cli/flags.js';

const GARBAGE = ['0x10', '1e1', ' 4', '4 ', '4.0', '+4', '0b11', '0o7', '', 'Infinity', '4_0', '９'];

function errorOf(run: () => unknown): unknown {
  try {
    run();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('number flags', () => {
  it('integerFlag takes decimal digits in range only; decimalFlag also a fraction', () => {
    expect(integerFlag('--n', '16', { min: 1, max: 1000 })).toBe(16);
    expect(integerFlag('--n', '0', { min: 0, max: 1 })).toBe(0);
    expect(decimalFlag('--s', '0.5', 600)).toBe(0.5);
    expect(decimalFlag('--s', '8', 600)).toBe(8);
    for (const bad of [...GARBAGE, '0', '1001', '99999999999999999999']) {
      expect(errorOf(() => integerFlag('--n', bad, { min: 1, max: 1000 })), JSON.stringify(bad)).toMatchObject({ field: '--n' });
    }
    for (const bad of [...GARBAGE.filter((g) => g !== '4.0'), '1e-9', '.5', '5.', '0', '0.0', '601', '-1']) {
      expect(errorOf(() => decimalFlag('--s', bad, 600)), JSON.stringify(bad)).toMatchObject({ field: '--s' });
    }
  });

  it('hotcold demo: --callers, --seconds and --duration refuse what Number() would take', () => {
    for (const [flag, bad] of [
      ...GARBAGE.map((g) => ['--callers', g] as const),
      ...GARBAGE.filter((g) => g !== '4.0').map((g) => ['--seconds', g] as const),
      ['--seconds', '1e-9'] as const,
      ['--duration', '0x2'] as const,
    ]) {
      const error = errorOf(() => parseDemoArgs([`${flag}=${bad}`]));
      expect(error, `${flag}=${JSON.stringify(bad)}`).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe(flag);
    }
    expect(parseDemoArgs(['--callers', '4', '--seconds', '2.5'])).toMatchObject({ callers: 4 });
  });

  it('hotcold demo: a --db that pg cannot parse is a usage error naming --db, without the password', () => {
    for (const db of ['postgres://app:hunter2-sekrit@127.0.0.1:99999/app', 'postgres://app:hunter2-sekrit@[::1/app']) {
      const error = errorOf(() => parseDemoArgs(['--db', db]));
      expect(error, db).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe('--db');
      expect((error as Error).message).not.toContain('hunter2');
    }
    expect(parseDemoArgs(['--db', 'postgres://postgres@127.0.0.1:5432/postgres']).db).toBe('postgres://postgres@127.0.0.1:5432/postgres');
  });

  it('hotcold conformance: --timeout and --mid-call-ms refuse what Number() would take, and what no timer can wait', () => {
    for (const flag of ['--timeout', '--mid-call-ms']) {
      for (const bad of [...GARBAGE, '2147483648', '99999999999']) {
        const error = errorOf(() => parseConformanceArgs(['http://127.0.0.1:1', `${flag}=${bad}`]));
        expect(error, `${flag}=${JSON.stringify(bad)}`).toBeInstanceOf(ConfigurationError);
        expect((error as ConfigurationError).field).toBe(flag);
      }
    }
    expect(parseConformanceArgs(['http://127.0.0.1:1', '--timeout', '2147483647'])).toMatchObject({ options: { requestTimeoutMs: 2147483647 } });
  });
});
