/**
 * Whether anyone collects: `@opentelemetry/api` has no proxy for metrics, and its tracer proxy
 * costs a span object per call even when it drops everything. So a component decides once, when
 * it is created, whether a real provider is registered (or given) and installs no observer at
 * all otherwise. Register the SDK before creating clients, policies and nodes.
 */
import { createNoopMeter, ProxyTracerProvider, trace, type Meter, type Tracer, type TracerProvider } from '@opentelemetry/api';
import { hotcoldMeter, hotcoldTracer, type TelemetryOptions } from '../shared/telemetry.js';

/** The meter and tracer a component records to; each `undefined` when nobody collects it. */
export interface ActiveTelemetry {
  meter: Meter | undefined;
  tracer: Tracer | undefined;
}

/** The meter and tracer to use, or `undefined` for those no real provider is registered or given for. */
export function activeTelemetry(options: TelemetryOptions | undefined): ActiveTelemetry {
  const meter = hotcoldMeter(options);
  const tracer = options?.tracerProvider !== undefined || isRealTracerProvider(trace.getTracerProvider()) ? hotcoldTracer(options) : undefined;
  return { meter: meter === createNoopMeter() ? undefined : meter, tracer };
}

function isRealTracerProvider(provider: TracerProvider): boolean {
  if (!(provider instanceof ProxyTracerProvider)) return true;
  // An unset proxy delegates to the api's one no-op provider, which a fresh proxy also returns.
  return provider.getDelegate() !== new ProxyTracerProvider().getDelegate();
}
