import { startDevBalancer } from '../../testing/dev-balancer.js';
import { startHaproxy } from './haproxy.js';
import { startNginx } from './nginx.js';
import { httpGetJson, type JsonAnswer } from './http-get.js';

/** The balancer in front of the two nodes: the in-process dev balancer, real HAProxy or real nginx. */
export type BalancerKind = 'dev' | 'haproxy' | 'nginx';

export interface RunningBalancer {
  readonly kind: BalancerKind;
  /** Base URL the client calls. */
  readonly url: string;
  /** The balancer's process id when it runs in its own process (HAProxy, nginx). */
  readonly pid?: number | undefined;
  /** `GET /health` through the balancer: 200 once it routes to a hot node. */
  health(): Promise<JsonAnswer | undefined>;
  stop(): Promise<void>;
}

export async function startBalancer(
  kind: BalancerKind,
  backends: ReadonlyArray<{ name: string; port: number }>,
  checkIntervalMs: number,
  /** A config template instead of the shipped one (HAProxy, nginx). */
  options: { template?: string } = {},
): Promise<RunningBalancer> {
  if (kind !== 'dev') {
    // The shipped HAProxy config checks every 100 ms; the harness runs it as is, like users
    // would. Open-source nginx has no health checks: the interval does not apply to it.
    if (kind === 'haproxy' && checkIntervalMs !== 100) throw new Error('the HAProxy example config checks every 100 ms; other intervals are not supported');
    const running = kind === 'haproxy' ? await startHaproxy({ backends, ...options }) : await startNginx({ backends, ...options });
    return {
      kind,
      url: running.url,
      pid: running.child.pid,
      health: () => httpGetJson(`${running.url}/health`, 500),
      stop: () => running.stop(),
    };
  }
  const dev = await startDevBalancer({ backends: backends.map((b) => `http://127.0.0.1:${b.port}`), checkIntervalMs });
  return {
    kind,
    url: dev.url,
    health: () => httpGetJson(`${dev.url}/health`, 500),
    stop: () => dev.close(),
  };
}
