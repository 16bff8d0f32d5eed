/**
 * The reference node continues the caller's trace (issue 10 §1): a SERVER span per request,
 * child of the context the request's W3C headers carry, active while the request is handled (so
 * the handler's own spans nest under it). Made only when a real tracer provider is registered
 * when the node is created.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, propagation, SpanKind, SpanStatusCode, trace, type Tracer } from '@opentelemetry/api';
import type { TelemetryOptions } from '../shared/telemetry.js';
import { ATTR_RPC_METHOD } from './attributes.js';
import { activeTelemetry } from './enabled.js';

/** Server spans for one node. */
export interface ServerTracing {
  /** Runs `handle` inside a SERVER span continuing the request's trace; the span ends with the response. */
  serve(req: IncomingMessage, res: ServerResponse, handle: () => Promise<void>): Promise<void>;
}

/** Server tracing for a node, or `undefined` when no real tracer provider is registered or given. */
export function serverTracing(options?: TelemetryOptions): ServerTracing | undefined {
  const { tracer } = activeTelemetry(options?.tracerProvider === undefined ? undefined : { tracerProvider: options.tracerProvider });
  return tracer === undefined ? undefined : new NodeServerTracing(tracer);
}

/** Names the active server span after the call's method, once the request's body told it. */
export function nameServerSpan(method: string): void {
  const span = trace.getActiveSpan();
  if (span === undefined) return;
  span.updateName(method);
  span.setAttribute(ATTR_RPC_METHOD, method);
}

class NodeServerTracing implements ServerTracing {
  constructor(private readonly tracer: Tracer) {}

  serve(req: IncomingMessage, res: ServerResponse, handle: () => Promise<void>): Promise<void> {
    const parent = propagation.extract(context.active(), req.headers);
    // Named by the HTTP method until the body names the call (nameServerSpan): a path would be
    // whatever a client sent, of unbounded variety.
    const method = req.method ?? 'GET';
    const span = this.tracer.startSpan(method, { kind: SpanKind.SERVER, attributes: { 'http.request.method': method } }, parent);
    res.once('close', () => {
      span.setAttribute('http.response.status_code', res.statusCode);
      // A response cut before it ended (the client went away, the node destroyed it) is an error too.
      if (res.statusCode >= 500 || !res.writableFinished) span.setStatus({ code: SpanStatusCode.ERROR });
      span.end();
    });
    return context.with(trace.setSpan(parent, span), handle);
  }
}
