/**
 * Whether axios may send an https request through a proxy it reads from the environment — and
 * tunnel it through a CONNECT agent of its own, which the attempt's evidence cannot wrap (see
 * attach-policy.ts: the hotcold headers then go through axios's headers, not onto the request).
 *
 * Why cached: a read of `process.env` is a call into the C++ environment (a lock, a new string
 * each time), and the four names axios's proxy-from-env reads for https were, in a 64-caller
 * profile, a sixth of everything `attachPolicy` added to a loopback GET. The environment rarely
 * changes while a process runs, so the answer is read again only once {@link PROXY_ENV_TTL_MS}
 * has passed. A variable set or cleared at run time is seen within that time; until then an
 * https request that axios tunnels goes out without the hotcold headers and, unseen by the
 * evidence, counts as "maybe executed" if it fails — never as "not executed".
 */
import { monotonicNow } from '../shared/clock.js';

/** How long one reading of the proxy variables is used, ms. */
export const PROXY_ENV_TTL_MS = 1000;

/** The proxy variables of one attached instance, read at most once per {@link PROXY_ENV_TTL_MS}. */
export class ProxyEnv {
  private readAt = Number.NEGATIVE_INFINITY;
  private set = false;

  /**
   * Whether any of `https_proxy`, `HTTPS_PROXY`, `all_proxy` or `ALL_PROXY` is set (non-empty).
   * NO_PROXY is not read: a proxy variable set at all is taken to mean "may tunnel".
   */
  httpsProxySet(): boolean {
    const now = monotonicNow();
    if (now - this.readAt < PROXY_ENV_TTL_MS) return this.set;
    const env = process.env;
    this.set = Boolean(env.https_proxy || env.HTTPS_PROXY || env.all_proxy || env.ALL_PROXY);
    this.readAt = now;
    return this.set;
  }
}
