import type { MeterProvider } from '@opentelemetry/api';
import { ConfigurationError } from '../errors.js';
import { NodeServer } from './http-server.js';
import { sendJson } from './http-io.js';
import type { NodeAddress } from './types.js';

/**
 * The node's Prometheus endpoint (`NodeOptions.metrics`): its own listener serving `GET /metrics`
 * in the Prometheus text format, from an OpenTelemetry `MeterProvider` whose only reader is
 * OpenTelemetry's Prometheus exporter. The SDK and the exporter are imported here, on `start()`,
 * and only when the option is set: a client-only application never loads them.
 */

/** The path the endpoint serves; everything else is `404`. */
export const METRICS_PATH = '/metrics';

export interface MetricsEndpoint {
  /** The provider the node's (and its lease's) instruments are created on. */
  readonly meterProvider: MeterProvider;
  /** Where `/metrics` is served. */
  readonly address: NodeAddress;
  /** Closes the listener (no socket left open) and shuts the provider down. Idempotent. */
  close(): Promise<void>;
}

/**
 * Starts the endpoint on `host:port`.
 * @throws ConfigurationError naming `metrics.port` when the port is in use or may not be bound,
 * `metrics.host` when the address is not this machine's
 */
export async function startMetricsEndpoint(port: number, host: string): Promise<MetricsEndpoint> {
  const [{ MeterProvider }, { PrometheusExporter }] = await Promise.all([import('@opentelemetry/sdk-metrics'), import('@opentelemetry/exporter-prometheus')]);
  // Never its own server: the node owns the listener, so that stop() closes it.
  const exporter = new PrometheusExporter({ preventServerStart: true });
  const provider = new MeterProvider({ readers: [exporter] });
  const server = new NodeServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    req.resume();
    if (path !== METRICS_PATH) {
      sendJson(res, 404, {}, { error: 'NOT_FOUND' });
    } else if (req.method !== 'GET' && req.method !== 'HEAD') {
      sendJson(res, 405, { allow: 'GET, HEAD' }, { error: 'METHOD_NOT_ALLOWED' });
    } else {
      exporter.getMetricsRequestHandler(req, res);
    }
  });
  let address: NodeAddress;
  try {
    address = await server.listen(port, host);
  } catch (error) {
    await provider.shutdown().catch(() => undefined);
    const code = (error as { code?: unknown }).code;
    if (code === 'EADDRINUSE') throw new ConfigurationError('metrics.port', `${host}:${port} is already in use (EADDRINUSE)`);
    if (code === 'EACCES') throw new ConfigurationError('metrics.port', `may not be bound by this process (EACCES)`);
    if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
      throw new ConfigurationError('metrics.host', `is not an address of this machine (${String(code)})`);
    }
    throw error;
  }
  let closing: Promise<void> | undefined;
  return {
    meterProvider: provider,
    address,
    close() {
      closing ??= (async () => {
        await server.close();
        await provider.shutdown().catch(() => undefined);
      })();
      return closing;
    },
  };
}
