/**
 * The lease's OpenTelemetry instruments (docs/observability.md "Lease") across a real takeover:
 * two engines on one SQLite file, an operator's forced promotion supersedes the holder, the
 * standby takes over. Read through a real SDK MeterProvider with an in-memory reader.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createLease, promoteLease, sqliteStore, type Lease, type LeaseOptions, type LeaseStore } from '../../src/lease/index.js';
import { allAttributeText, histogramCount, meterProviderWithReader, valueOf } from '../support/server-metrics.js';
import { nextEvent, waitFor } from './helpers.js';

const dirs: string[] = [];
const leases: Lease[] = [];
const stores: LeaseStore[] = [];

afterEach(async () => {
  for (const lease of leases.splice(0)) await lease.close().catch(() => undefined);
  for (const store of stores.splice(0)) await store.close().catch(() => undefined);
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function sqliteFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-lease-metrics-'));
  dirs.push(dir);
  return join(dir, 'lease.db');
}

function lease(options: LeaseOptions): Lease {
  const l = createLease(options);
  leases.push(l);
  return l;
}

describe('lease metrics', () => {
  it('report state, token, renewals, the deadline, a takeover and a loss across a forced takeover', async () => {
    const file = sqliteFile();
    const store = sqliteStore(file);
    stores.push(store);
    const { provider, reader } = meterProviderWithReader();
    const telemetry = { meterProvider: provider };
    // A: cold, so that after its loss it stays `lost` and B is the one that takes over.
    const a = lease({ store, name: 'm', machineName: 'alpha', mode: 'cold', updateInterval: 50, waitInterval: 2_000, telemetry });
    const b = lease({ store, name: 'm', machineName: 'beta', mode: 'warm', updateInterval: 50, waitInterval: 2_000, telemetry });
    const aAttrs = { 'hotcold.lease.name': 'm', 'hotcold.lease.holder': a.holderId, 'hotcold.node.name': 'alpha' };
    const bAttrs = { 'hotcold.lease.name': 'm', 'hotcold.lease.holder': b.holderId, 'hotcold.node.name': 'beta' };

    const renewed = nextEvent(a.events$, 'renewed');
    const heldByA = await a.acquire();
    await renewed;
    void b.acquire().catch(() => undefined);
    await waitFor(() => b.state.status === 'standby' && b.state.holder === a.holderId, 20_000);

    let m = await reader.metrics();
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'active' })).toBe(1);
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'standby' })).toBe(0);
    expect(valueOf(m, 'hotcold.lease.state', { ...bAttrs, 'hotcold.lease.state': 'standby' })).toBe(1);
    expect(valueOf(m, 'hotcold.lease.token', aAttrs)).toBe(heldByA.token);
    expect(valueOf(m, 'hotcold.lease.takeovers', aAttrs)).toBe(1);
    expect(histogramCount(m, 'hotcold.lease.renewal.duration', aAttrs)).toBeGreaterThanOrEqual(1);
    const left = valueOf(m, 'hotcold.lease.deadline.remaining', aAttrs);
    expect(left).toBeGreaterThan(0);
    expect(left).toBeLessThanOrEqual(2);
    // Only the holder has a deadline.
    expect(valueOf(m, 'hotcold.lease.deadline.remaining', bAttrs)).toBe(0);
    expect(m.get('hotcold.lease.renewal.duration')?.descriptor.unit).toBe('s');
    expect(m.get('hotcold.lease.deadline.remaining')?.descriptor.unit).toBe('s');

    // The operator forces a promotion: A's next renewal is rejected (superseded), B takes over.
    const lost = nextEvent(a.events$, 'lost');
    const acquiredByB = nextEvent(b.events$, 'acquired');
    const forced = await promoteLease(store, 'm', { force: true });
    expect(forced.outcome).toBe('forced');
    expect((await lost).cause).toBe('superseded');
    const { token: bToken } = await acquiredByB;
    expect(bToken).toBeGreaterThan(heldByA.token);

    m = await reader.metrics();
    expect(valueOf(m, 'hotcold.lease.lost', { ...aAttrs, 'hotcold.lease.lost.reason': 'superseded' })).toBe(1);
    expect(valueOf(m, 'hotcold.lease.lost', bAttrs)).toBe(0);
    expect(valueOf(m, 'hotcold.lease.takeovers', bAttrs)).toBe(1);
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'lost' })).toBe(1);
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'active' })).toBe(0);
    expect(valueOf(m, 'hotcold.lease.state', { ...bAttrs, 'hotcold.lease.state': 'active' })).toBe(1);
    expect(valueOf(m, 'hotcold.lease.token', bAttrs)).toBe(bToken);
    expect(valueOf(m, 'hotcold.lease.deadline.remaining', aAttrs)).toBe(0);
    expect(valueOf(m, 'hotcold.lease.deadline.remaining', bAttrs)).toBeGreaterThan(0);
    // Names and holders only: never the store's location.
    expect(allAttributeText(m)).not.toContain(file);

    // A closed lease reports `closed` once more, then is no longer observed (the SDK keeps that last value).
    await a.close();
    m = await reader.metrics();
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'closed' })).toBe(1);
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'lost' })).toBe(0);
    expect(valueOf(m, 'hotcold.lease.state', { ...bAttrs, 'hotcold.lease.state': 'active' })).toBe(1);
    m = await reader.metrics();
    expect(valueOf(m, 'hotcold.lease.state', { ...aAttrs, 'hotcold.lease.state': 'closed' })).toBe(1);
    await provider.shutdown();
  });

  it('rejects a bad telemetry option with a ConfigurationError naming the field', () => {
    const store = sqliteStore(':memory:');
    stores.push(store);
    const bad: Array<[unknown, string]> = [
      [5, 'telemetry'],
      [null, 'telemetry'],
      [{ meterProvider: {} }, 'telemetry.meterProvider'],
      [{ tracerProvider: 'x' }, 'telemetry.tracerProvider'],
      [{ meterProvidr: {} }, 'telemetry.meterProvidr'],
    ];
    for (const [telemetry, field] of bad) {
      let caught: unknown;
      try {
        createLease({ store, machineName: 'x', telemetry } as unknown as LeaseOptions);
      } catch (error) {
        caught = error;
      }
      expect(caught, field).toBeInstanceOf(ConfigurationError);
      expect((caught as ConfigurationError).field).toBe(field);
    }
  });
});
