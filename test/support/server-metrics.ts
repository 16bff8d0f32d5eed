/**
 * An in-memory OpenTelemetry metric reader for the lease and node metric suites: a real SDK
 * MeterProvider whose reader is collected on demand, plus lookups of the data points.
 */
import type { Attributes } from '@opentelemetry/api';
import { DataPointType, MeterProvider, MetricReader, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';

/** A reader that exports nothing by itself: the test calls `points()` when it wants to look. */
export class CollectingReader extends MetricReader {
  protected async onShutdown(): Promise<void> {}
  protected async onForceFlush(): Promise<void> {}

  /** Every metric collected now, by name. */
  async metrics(): Promise<Map<string, MetricData>> {
    const { resourceMetrics } = await this.collect();
    const byName = new Map<string, MetricData>();
    for (const scope of resourceMetrics.scopeMetrics) for (const metric of scope.metrics) byName.set(metric.descriptor.name, metric);
    return byName;
  }
}

export function meterProviderWithReader(): { provider: MeterProvider; reader: CollectingReader } {
  const reader = new CollectingReader();
  return { provider: new MeterProvider({ readers: [reader] }), reader };
}

function matches(attributes: Attributes, wanted: Attributes): boolean {
  return Object.entries(wanted).every(([key, value]) => attributes[key] === value);
}

/** The data points of `name` whose attributes include `wanted`. */
export function pointsOf(metrics: Map<string, MetricData>, name: string, wanted: Attributes = {}): DataPoint<unknown>[] {
  const metric = metrics.get(name);
  if (!metric) return [];
  return (metric.dataPoints as DataPoint<unknown>[]).filter((p) => matches(p.attributes, wanted));
}

/** The sum of a counter's or gauge's points whose attributes include `wanted` (0 when none). */
export function valueOf(metrics: Map<string, MetricData>, name: string, wanted: Attributes = {}): number {
  return pointsOf(metrics, name, wanted).reduce((sum, p) => sum + (typeof p.value === 'number' ? p.value : 0), 0);
}

/** How many values a histogram recorded on points whose attributes include `wanted`. */
export function histogramCount(metrics: Map<string, MetricData>, name: string, wanted: Attributes = {}): number {
  const metric = metrics.get(name);
  if (!metric || metric.dataPointType !== DataPointType.HISTOGRAM) return 0;
  return pointsOf(metrics, name, wanted).reduce((sum, p) => sum + (p.value as Histogram).count, 0);
}

/** Every attribute value of every point, as text (to check that no credential is among them). */
export function allAttributeText(metrics: Map<string, MetricData>): string {
  const parts: string[] = [];
  for (const metric of metrics.values()) for (const point of metric.dataPoints as DataPoint<unknown>[]) parts.push(JSON.stringify(point.attributes));
  return parts.join('\n');
}
