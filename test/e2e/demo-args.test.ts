import { describe, expect, it } from 'vitest';
import { ConfigurationError } from 'hotcold';
import { parseDemoArgs } from '../../src/cli/demo/demo-args.js';

describe('hotcold demo options', () => {
  it('rejects caller counts that are not positive integers, naming the flag', () => {
    for (const bad of ['0', '0.4', '2.5', '-3', 'many', '1001']) {
      const error = (() => {
        try {
          parseDemoArgs(['--callers', bad]);
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error, bad).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe('--callers');
    }
    expect(parseDemoArgs(['--callers', '4']).callers).toBe(4);
  });

  it('accepts fractional seconds within bounds and rejects the rest', () => {
    expect(() => parseDemoArgs(['--seconds', '4.5'])).not.toThrow();
    for (const bad of ['0', '-1', '601', 'NaN']) expect(() => parseDemoArgs(['--seconds', bad])).toThrow(ConfigurationError);
  });

  it('--report takes a file name, and without one is a ConfigurationError naming --report', () => {
    expect(parseDemoArgs(['--report', 'failover.html']).report).toBe('failover.html');
    expect(parseDemoArgs(['--report=out/x.html']).report).toBe('out/x.html');
    expect(parseDemoArgs([]).report).toBeUndefined();
    for (const bad of [['--report'], ['--report', '--json'], ['--report=']]) {
      let error: unknown;
      try {
        parseDemoArgs(bad);
      } catch (e) {
        error = e;
      }
      expect(error, bad.join(' ')).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe('--report');
    }
  });
});
