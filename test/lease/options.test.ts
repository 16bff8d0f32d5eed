import { afterEach, describe, expect, it, vi } from 'vitest';
import { ConfigurationError, createLease, sqliteStore } from '../../src/lease/index.js';
import fc from 'fast-check';
import { selfFencingSpan } from '../../src/lease/self-fencing.js';
import type { LeaseEvent, LeaseStore } from '../../src/lease/types.js';

// The store is never touched before acquire(): construction-time validation needs no database.
const store: LeaseStore = sqliteStore(':memory:');

function fieldOf(options: Record<string, unknown>): string | undefined {
  try {
    createLease({ store, machineName: 'm', ...options });
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).field;
  }
}

afterEach(() => vi.restoreAllMocks());

describe('createLease validation', () => {
  it('applies the reference defaults', () => {
    const lease = createLease({ store, machineName: 'host-a' });
    expect(lease.options).toMatchObject({ name: 'hotcold', updateInterval: 20_000, waitInterval: 40_000, mode: 'cold', unsafeDisableSelfFencing: false });
    expect(lease.options.statementTimeoutMs).toBeLessThan(40_000);
    expect(lease.options.pollInterval).toBe(1000);
    expect(lease.holderId).toMatch(/^host-a#[0-9a-f]{12}$/);
    expect(lease.state.status).toBe('standby');
  });

  it('gives each engine its own holder id (same machine name, different instance)', () => {
    const a = createLease({ store, machineName: 'same' });
    const b = createLease({ store, machineName: 'same' });
    expect(a.holderId).not.toBe(b.holderId);
  });

  it.each([
    [{ machineName: '' }, 'machineName'],
    [{ machineName: '   ' }, 'machineName'],
    [{ machineName: 42 }, 'machineName'],
    [{ machineName: 'x'.repeat(201) }, 'machineName'],
    [{ updateInterval: 0 }, 'updateInterval'],
    [{ updateInterval: -5 }, 'updateInterval'],
    [{ updateInterval: 1.5 }, 'updateInterval'],
    [{ updateInterval: Number.NaN }, 'updateInterval'],
    [{ waitInterval: 0 }, 'waitInterval'],
    [{ waitInterval: 10.5 }, 'waitInterval'],
    [{ waitInterval: '40000' }, 'waitInterval'],
    [{ updateInterval: 1000, waitInterval: 1000 }, 'waitInterval'],
    [{ updateInterval: 1000, waitInterval: 900 }, 'waitInterval'],
    // above updateInterval, but not by the self-fencing margin
    [{ updateInterval: 1000, waitInterval: 1002 }, 'waitInterval'],
    // accepted intervals must be able to work: a lone holder must outlive a renewal's round trip
    [{ updateInterval: 1, waitInterval: 4 }, 'updateInterval'],
    [{ updateInterval: 9, waitInterval: 1000 }, 'updateInterval'],
    [{ updateInterval: 10, waitInterval: 99 }, 'waitInterval'],
    [{ mode: 'hot' }, 'mode'],
    [{ name: '' }, 'name'],
    [{ name: 'has space' }, 'name'],
    [{ statementTimeoutMs: 0 }, 'statementTimeoutMs'],
    [{ updateInterval: 100, waitInterval: 300, statementTimeoutMs: 300 }, 'statementTimeoutMs'],
    [{ updateInterval: 100, waitInterval: 300, statementTimeoutMs: 298 }, 'statementTimeoutMs'],
    [{ pollInterval: 0 }, 'pollInterval'],
    [{ unsafeDisableSelfFencing: 'yes' }, 'unsafeDisableSelfFencing'],
    [{ updateIntervall: 5 }, 'updateIntervall'],
    [{ store: {} }, 'store'],
    [{ store: undefined }, 'store'],
  ])('rejects %o (field %s)', (options, field) => {
    expect(fieldOf(options)).toBe(field);
  });

  it('accepts a statement timeout just below the self-fencing deadline', () => {
    expect(fieldOf({ updateInterval: 100, waitInterval: 300, statementTimeoutMs: 297 })).toBeUndefined();
  });

  it('rejects an invalid table name at the store', () => {
    expect(() => sqliteStore(':memory:', { table: 'bad-name; drop' })).toThrow(ConfigurationError);
    expect(() => sqliteStore(':memory:', { table: '1abc' })).toThrow(/table/);
  });

  it('warns (an event per engine, never the console) when waitInterval < 2 × updateInterval', async () => {
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => undefined);
    const lease = createLease({ store, machineName: 'm', updateInterval: 1000, waitInterval: 1500 });
    const events: LeaseEvent[] = [];
    lease.events$.subscribe((e) => events.push(e));
    await Promise.resolve();
    expect(events).toEqual([{ type: 'warning', message: expect.stringMatching(/below 2 × updateInterval/) }]);
    // A second engine warns its own subscribers too: no once-per-process state.
    const second = createLease({ store, machineName: 'm', updateInterval: 1000, waitInterval: 1500 });
    const again: LeaseEvent[] = [];
    second.events$.subscribe((e) => again.push(e));
    await Promise.resolve();
    expect(again).toEqual(events);
    expect(warn).not.toHaveBeenCalled();
    warn.mockRestore();
    const quiet = createLease({ store, machineName: 'm', updateInterval: 1000, waitInterval: 2000 });
    const none: LeaseEvent[] = [];
    quiet.events$.subscribe((e) => none.push(e));
    await Promise.resolve();
    expect(none).toEqual([]);
  });

  it('never echoes a value in the message', () => {
    try {
      createLease({ store, machineName: 'm', mode: 'sekrit-value' as 'cold' });
    } catch (error) {
      expect((error as Error).message).not.toContain('sekrit-value');
    }
  });
});

describe('every accepted interval pair leaves room for a renewal round trip', () => {
  it('the self-fencing deadline of any accepted waitInterval is at least ~90 ms after the renewal is sent', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 1_000_000 }), (updateInterval, waitInterval) => {
        let accepted = true;
        try {
          createLease({ store, machineName: 'p', updateInterval, waitInterval });
        } catch (error) {
          if (!(error instanceof ConfigurationError)) throw error;
          accepted = false;
        }
        if (accepted) expect(selfFencingSpan(waitInterval)).toBeGreaterThanOrEqual(90);
      }),
    );
  });
});
