/**
 * A real OpenTelemetry SDK in memory: a MeterProvider with a pull reader, a BasicTracerProvider
 * exporting to an InMemorySpanExporter, AsyncLocalStorage context and the W3C propagator,
 * registered globally (nodes use the global tracer) and removed again by `uninstall()`.
 */
import { context, metrics, propagation, trace, type Attributes } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type MetricData } from '@opentelemetry/sdk-metrics';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';

/** A reader the test collects from when it wants. */
class PullReader extends MetricReader {
  protected onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

export interface Telemetry {
  meterProvider: MeterProvider;
  tracerProvider: BasicTracerProvider;
  exporter: InMemorySpanExporter;
  /** Every metric collected now, by name. */
  collect(): Promise<Map<string, MetricData>>;
  spans(): ReadableSpan[];
  uninstall(): Promise<void>;
}

export function installTelemetry(options: { globalMeter?: boolean } = {}): Telemetry {
  const reader = new PullReader();
  const meterProvider = new MeterProvider({ readers: [reader] });
  const exporter = new InMemorySpanExporter();
  const tracerProvider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(tracerProvider);
  if (options.globalMeter === true) metrics.setGlobalMeterProvider(meterProvider);
  return {
    meterProvider,
    tracerProvider,
    exporter,
    async collect() {
      const { resourceMetrics } = await reader.collect();
      const out = new Map<string, MetricData>();
      for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) out.set(metric.descriptor.name, metric);
      return out;
    },
    spans: () => exporter.getFinishedSpans(),
    async uninstall() {
      trace.disable();
      propagation.disable();
      context.disable();
      metrics.disable();
      await meterProvider.shutdown();
      await tracerProvider.shutdown();
    },
  };
}

/** The data points of a counter / up-down counter / gauge as `{ attributes, value }`. */
export function points(metric: MetricData | undefined): Array<{ attributes: Attributes; value: number }> {
  if (metric === undefined) return [];
  if (metric.dataPointType === DataPointType.HISTOGRAM) {
    return (metric.dataPoints).map((p) => ({ attributes: p.attributes, value: p.value.count }));
  }
  return (metric.dataPoints as Array<DataPoint<number>>).map((p) => ({ attributes: p.attributes, value: p.value }));
}

/** The sum of the points whose attributes include `match`. */
export function total(metric: MetricData | undefined, match: Attributes = {}): number {
  return points(metric)
    .filter((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))
    .reduce((sum, p) => sum + p.value, 0);
}

/** Every attribute key, value, span name, event name and status message, as one string. */
export function everythingRecorded(metricsByName: Map<string, MetricData>, spans: readonly ReadableSpan[]): string {
  const parts: unknown[] = [];
  for (const metric of metricsByName.values()) {
    parts.push(metric.descriptor.name);
    for (const point of metric.dataPoints) parts.push(point.attributes);
  }
  for (const span of spans) {
    parts.push(span.name, span.attributes, span.status, span.events.map((e) => [e.name, e.attributes]));
  }
  return JSON.stringify(parts);
}
