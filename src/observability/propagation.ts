/**
 * W3C trace context out to the node: each attempt's request carries the active context (the
 * call's span, see pipeline-observer.ts) through the globally registered propagator. Without a
 * registered propagator `propagation.inject` is the api's no-op.
 */
import { context, propagation, type TextMapSetter } from '@opentelemetry/api';

/** Something with `set(name, value)`: axios's `AxiosHeaders`, grpc-js's `Metadata`. */
export interface HeaderSetter {
  set(name: string, value: string): unknown;
}

const setterOfSet: TextMapSetter<HeaderSetter> = {
  set(carrier, key, value) {
    carrier.set(key, value);
  },
};

/** Adds the active trace context's headers (`traceparent`, `tracestate`) to a plain header record. */
export function injectTraceHeaders(headers: Record<string, string>): void {
  propagation.inject(context.active(), headers);
}

/** Adds the active trace context to a carrier with `set(name, value)` (axios headers, gRPC metadata). */
export function injectTraceInto(carrier: HeaderSetter): void {
  propagation.inject(context.active(), carrier, setterOfSet);
}
