import { ConfigurationError } from '../errors.js';
import type { TelemetryOptions } from './telemetry.js';
import { rejectUnknownKeys, requireObject } from './validate.js';

/**
 * Checks a `telemetry` option (`{ meterProvider?, tracerProvider? }`): undefined stays undefined
 * (the global providers are used); anything else must be an object whose providers have
 * `getMeter` / `getTracer`.
 * @throws ConfigurationError naming the field (`telemetry`, `telemetry.meterProvider`, …)
 */
export function requireTelemetryOptions(field: string, value: unknown): TelemetryOptions | undefined {
  if (value === undefined) return undefined;
  const raw = requireObject(field, value);
  rejectUnknownKeys(field, raw, ['meterProvider', 'tracerProvider']);
  const { meterProvider, tracerProvider } = raw as { meterProvider?: { getMeter?: unknown }; tracerProvider?: { getTracer?: unknown } };
  if (meterProvider !== undefined && (typeof meterProvider !== 'object' || meterProvider === null || typeof meterProvider.getMeter !== 'function')) {
    throw new ConfigurationError(`${field}.meterProvider`, 'must be an OpenTelemetry MeterProvider (with getMeter())');
  }
  if (tracerProvider !== undefined && (typeof tracerProvider !== 'object' || tracerProvider === null || typeof tracerProvider.getTracer !== 'function')) {
    throw new ConfigurationError(`${field}.tracerProvider`, 'must be an OpenTelemetry TracerProvider (with getTracer())');
  }
  return raw;
}
