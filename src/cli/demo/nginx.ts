import { fileURLToPath } from 'node:url';
import { BalancerNotInstalledError, findBinary, startBalancerProcess, type BalancerKindSpec, type BalancerStartOptions, type RunningBalancerProcess } from './balancer-process.js';

/**
 * Runs real nginx in front of two nodes, from the shipped example configuration
 * (examples/nginx/nginx.conf) with only the listen and server addresses rewritten, so the file
 * users copy is the file the tests exercise. nginx runs as a foreground child (`daemon off`)
 * with its prefix, pid file, logs and temp folders in a private folder: nothing is written to
 * /var/log/nginx or /var/lib/nginx.
 */

const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/bin/nginx', '/usr/local/bin/nginx', '/usr/local/nginx/sbin/nginx'];

/**
 * The nginx binary: `$NGINX_BIN` when set (and then only it), else a standard location or one on
 * PATH; undefined if none.
 */
export function findNginx(): string | undefined {
  return findBinary('NGINX_BIN', 'nginx', CANDIDATES);
}

/** examples/nginx/nginx.conf, found from this module in src/ or in dist/. */
export function nginxExampleConfigPath(): string {
  return fileURLToPath(new URL('../../../examples/nginx/nginx.conf', import.meta.url));
}

export interface NginxBackend {
  port: number;
  host?: string;
}

/**
 * Rewrites the template's `listen` line and the node addresses of its upstream `server` lines:
 * the template's distinct addresses, in order of first appearance, become `backends` (nginx's
 * upstream servers have no names; one node may appear on several lines). Throws when the
 * template does not have exactly one `listen` and as many distinct addresses as backends given,
 * so a drifting example fails loudly.
 */
export function renderNginxConfig(template: string, options: { port: number; backends: readonly NginxBackend[] }): string {
  let listens = 0;
  const addresses: string[] = [];
  const lines = template.split('\n').map((line) => {
    const listen = /^(\s*listen\s+)[^\s;]+(.*)$/.exec(line);
    if (listen) {
      listens += 1;
      return `${listen[1]}127.0.0.1:${options.port}${listen[2]}`;
    }
    // `server <address> [parameters];` inside `upstream`; a `server {` block is not one.
    const server = /^(\s*server\s+)([^\s;{]+)(.*;.*)$/.exec(line);
    if (!server) return line;
    const address = server[2] ?? '';
    if (!addresses.includes(address)) addresses.push(address);
    const backend = options.backends[addresses.indexOf(address)];
    // More addresses than backends: counted here, refused below with the full count.
    return backend ? `${server[1]}${backend.host ?? '127.0.0.1'}:${backend.port}${server[3]}` : line;
  });
  if (listens !== 1) throw new Error(`nginx template must have exactly one listen line, has ${listens}`);
  if (addresses.length !== options.backends.length) {
    throw new Error(`nginx template has ${addresses.length} upstream server addresses, ${options.backends.length} were given`);
  }
  return lines.join('\n');
}

/** nginx in the foreground; `log()` has its error log (connect failures, "no live upstreams"). */
export type RunningNginx = RunningBalancerProcess;

export type StartNginxOptions = BalancerStartOptions<NginxBackend>;

export class NginxNotInstalledError extends BalancerNotInstalledError {
  constructor() {
    super('nginx', 'nginx', 'NGINX_BIN');
    this.name = 'NginxNotInstalledError';
  }
}

/**
 * The command line: the private folder as prefix (the config's relative pid, log and temp paths
 * land there), errors to stderr from the first line on (`-e`: before the config is read, nginx
 * would otherwise open its compiled-in error log), and in the foreground.
 */
export function nginxArgs(dir: string, configFile: string): string[] {
  return ['-p', `${dir}/`, '-c', configFile, '-e', 'stderr', '-g', 'daemon off;'];
}

const NGINX: BalancerKindSpec<NginxBackend> = Object.freeze({
  name: 'nginx',
  find: findNginx,
  notInstalled: () => new NginxNotInstalledError(),
  exampleConfig: nginxExampleConfigPath,
  configName: 'nginx.conf',
  render: renderNginxConfig,
  args: nginxArgs,
});

/** Starts nginx on a free loopback port; retries with another port if the bind races. */
export function startNginx(options: StartNginxOptions): Promise<RunningNginx> {
  return startBalancerProcess(NGINX, options);
}
