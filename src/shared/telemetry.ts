/**
 * Where the library gets its OpenTelemetry meter and tracer. `@opentelemetry/api` is a no-op
 * until the application registers an SDK, so instrumenting costs next to nothing for users who
 * do not collect telemetry. A component may be handed its own providers (tests use an in-memory
 * reader and exporter); otherwise the global ones are used.
 */
import { metrics, trace, type Meter, type MeterProvider, type Tracer, type TracerProvider } from '@opentelemetry/api';

/** The instrumentation scope every hotcold meter and tracer is created under. */
export const INSTRUMENTATION_SCOPE = 'hotcold';

/**
 * Where a component sends its telemetry.
 * @default the global providers of `@opentelemetry/api` (no-ops until an SDK is registered)
 */
export interface TelemetryOptions {
  /** The meter provider to create instruments on. */
  meterProvider?: MeterProvider;
  /** The tracer provider to create spans on. */
  tracerProvider?: TracerProvider;
}

/** The meter for hotcold's instruments, from the given provider or the global one. */
export function hotcoldMeter(options?: TelemetryOptions): Meter {
  return (options?.meterProvider ?? metrics.getMeterProvider()).getMeter(INSTRUMENTATION_SCOPE);
}

/** The tracer for hotcold's spans, from the given provider or the global one. */
export function hotcoldTracer(options?: TelemetryOptions): Tracer {
  return (options?.tracerProvider ?? trace.getTracerProvider()).getTracer(INSTRUMENTATION_SCOPE);
}
