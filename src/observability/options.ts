/** Validation of the `telemetry` option every component that records telemetry takes. */
import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { ConfigurationError } from '../errors.js';
import type { TelemetryOptions } from '../shared/telemetry.js';
import { rejectUnknownKeys, requireObject } from '../shared/validate.js';

/**
 * `telemetry`, validated: an object with an optional `meterProvider` (with `getMeter`) and
 * `tracerProvider` (with `getTracer`).
 * @throws {ConfigurationError} naming the field.
 */
export function resolveTelemetryOptions(value: unknown, field = 'telemetry'): TelemetryOptions | undefined {
  if (value === undefined) return undefined;
  const raw = requireObject(field, value);
  rejectUnknownKeys(field, raw, ['meterProvider', 'tracerProvider']);
  const out: TelemetryOptions = {};
  if (raw.meterProvider !== undefined) {
    if (!hasMethod(raw.meterProvider, 'getMeter')) throw new ConfigurationError(`${field}.meterProvider`, 'must be a MeterProvider (with getMeter)');
    out.meterProvider = raw.meterProvider as MeterProvider;
  }
  if (raw.tracerProvider !== undefined) {
    if (!hasMethod(raw.tracerProvider, 'getTracer')) throw new ConfigurationError(`${field}.tracerProvider`, 'must be a TracerProvider (with getTracer)');
    out.tracerProvider = raw.tracerProvider as TracerProvider;
  }
  return out;
}

function hasMethod(value: unknown, name: string): boolean {
  return typeof value === 'object' && value !== null && typeof (value as Record<string, unknown>)[name] === 'function';
}
