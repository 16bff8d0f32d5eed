import { startDevBalancer } from '../../testing/dev-balancer.js';
import { startHaproxy } from './haproxy.js';
import { httpGetJson, type JsonAnswer } from './http-get.js';

/** The balancer in front of the two nodes: the in-process dev balancer, or real HAProxy. */
export type BalancerKind = 'dev' | 'haproxy';

export interface RunningBalancer {
  readonly kind: BalancerKind;
  /** Base URL the client calls. */
  readonly url: string;
  /** The balancer's process id when it runs in its own process (HAProxy). */
  readonly pid?: number | undefined;
  /** `GET /health` through the balancer: 200 once it routes to a hot node. */
  health(): Promise<JsonAnswer | undefined>;
  stop(): Promise<void>;
}

export async function startBalancer(
  kind: BalancerKind,
  backends: ReadonlyArray<{ name: string; port: number }>,
  checkIntervalMs: number,
): Promise<RunningBalancer> {
  if (kind === 'haproxy') {
    // The shipped config checks every 100 ms; the harness runs it as is, like users would.
    if (checkIntervalMs !== 100) throw new Error('the HAProxy example config checks every 100 ms; other intervals are not supported');
    const haproxy = await startHaproxy({ backends });
    return {
      kind,
      url: haproxy.url,
      pid: haproxy.child.pid,
      health: () => httpGetJson(`${haproxy.url}/health`, 500),
      stop: () => haproxy.stop(),
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
