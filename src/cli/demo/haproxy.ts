import { fileURLToPath } from 'node:url';
import { BalancerNotInstalledError, findBinary, startBalancerProcess, type BalancerKindSpec, type BalancerStartOptions, type RunningBalancerProcess } from './balancer-process.js';

/**
 * Runs real HAProxy in front of two nodes, from the shipped example configuration
 * (examples/haproxy/haproxy.cfg) with only the listen and server addresses rewritten, so the
 * file users copy is the file the tests exercise.
 */

const CANDIDATES = ['/usr/sbin/haproxy', '/usr/local/sbin/haproxy', '/usr/bin/haproxy', '/usr/local/bin/haproxy'];

/**
 * The haproxy binary: `$HAPROXY_BIN` when set (and then only it: a wrong path means "not
 * installed", not "look elsewhere"), else a standard location or one on PATH; undefined if none.
 */
export function findHaproxy(): string | undefined {
  return findBinary('HAPROXY_BIN', 'haproxy', CANDIDATES);
}

/** examples/haproxy/haproxy.cfg, found from this module in src/ or in dist/. */
export function exampleConfigPath(): string {
  return fileURLToPath(new URL('../../../examples/haproxy/haproxy.cfg', import.meta.url));
}

export interface HaproxyBackend {
  /** Server name as it appears in the template (`node-a`, `node-b`). */
  name: string;
  port: number;
  host?: string;
}

/**
 * Rewrites the template's `bind` line and its `server <name> <address>` lines. Throws when the
 * template does not have exactly the servers asked for, so a drifting example fails loudly.
 */
export function renderHaproxyConfig(template: string, options: { port: number; backends: readonly HaproxyBackend[] }): string {
  let binds = 0;
  const seen = new Set<string>();
  const lines = template.split('\n').map((line) => {
    const bind = /^(\s*bind\s+)\S+(.*)$/.exec(line);
    if (bind) {
      binds += 1;
      return `${bind[1]}127.0.0.1:${options.port}${bind[2]}`;
    }
    const server = /^(\s*server\s+)(\S+)(\s+)\S+(.*)$/.exec(line);
    if (server) {
      const name = server[2] ?? '';
      const backend = options.backends.find((b) => b.name === name);
      if (!backend) throw new Error(`haproxy template has server '${name}' that was not given a port`);
      seen.add(name);
      return `${server[1]}${name}${server[3]}${backend.host ?? '127.0.0.1'}:${backend.port}${server[4]}`;
    }
    return line;
  });
  if (binds !== 1) throw new Error(`haproxy template must have exactly one bind line, has ${binds}`);
  for (const backend of options.backends) {
    if (!seen.has(backend.name)) throw new Error(`haproxy template has no server '${backend.name}'`);
  }
  return lines.join('\n');
}

/** HAProxy running in the foreground (`-db`); `log()` has its server UP/DOWN transitions. */
export type RunningHaproxy = RunningBalancerProcess;

export type StartHaproxyOptions = BalancerStartOptions<HaproxyBackend>;

export class HaproxyNotInstalledError extends BalancerNotInstalledError {
  constructor() {
    super('HAProxy', 'haproxy', 'HAPROXY_BIN');
    this.name = 'HaproxyNotInstalledError';
  }
}

const HAPROXY: BalancerKindSpec<HaproxyBackend> = Object.freeze({
  name: 'haproxy',
  find: findHaproxy,
  notInstalled: () => new HaproxyNotInstalledError(),
  exampleConfig: exampleConfigPath,
  configName: 'haproxy.cfg',
  render: renderHaproxyConfig,
  // -db: foreground, no daemon, logs to stderr.
  args: (_dir: string, configFile: string) => ['-f', configFile, '-db'],
});

/** Starts HAProxy on a free loopback port; retries with another port if the bind races. */
export function startHaproxy(options: StartHaproxyOptions): Promise<RunningHaproxy> {
  return startBalancerProcess(HAPROXY, options);
}
