import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { sleep } from '../../shared/sleep.js';
import { spawnManaged, type ManagedChild } from './child.js';
import { canConnect, freePort } from './ports.js';

/**
 * What HAProxy and nginx have in common as test balancers: a binary found on this machine, a
 * shipped config rendered with loopback ports, a foreground child process owned by the caller,
 * and a private folder that is removed with it.
 */

/**
 * The binary: `$<envVar>` when set (and then only it: a wrong path means "not installed", not
 * "look elsewhere"), else the first of `candidates` or `<name>` on PATH that exists.
 */
export function findBinary(envVar: string, name: string, candidates: readonly string[]): string | undefined {
  const fromEnv = process.env[envVar];
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const onPath = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, name));
  return [...candidates, ...onPath].find((candidate) => existsSync(candidate));
}

/** The balancer's binary is not on this machine. */
export class BalancerNotInstalledError extends Error {
  /** `product`: "HAProxy"; `binary`: "haproxy" (also the Debian package); `envVar`: "HAPROXY_BIN". */
  constructor(product: string, binary: string, envVar: string) {
    super(`${product} is not installed (looked for $${envVar}, /usr/sbin/${binary} and ${binary} on PATH); install it (apt-get install ${binary}) or use the dev balancer`);
    this.name = 'BalancerNotInstalledError';
  }
}

/** A balancer process listening on 127.0.0.1:`port`, with its private folder. */
export interface RunningBalancerProcess {
  /** `http://127.0.0.1:<port>`: the address clients call. */
  readonly url: string;
  readonly port: number;
  readonly configFile: string;
  /** The private folder (config, pid, logs, temp files); removed by `stop`. */
  readonly dir: string;
  readonly child: ManagedChild;
  /** The process's output lines so far. */
  log(): string;
  /** Ends the process (escalating to SIGKILL) and removes its folder. */
  stop(): Promise<void>;
}

/** What a caller may set when starting a balancer of any kind. */
export interface BalancerStartOptions<B> {
  /** The nodes, as the kind's template names them. */
  backends: readonly B[];
  /** Template file; default the shipped example. */
  template?: string;
  binary?: string;
  readyTimeoutMs?: number;
  onLine?: (line: string) => void;
}

/** How to run one kind of balancer from its shipped config. */
export interface BalancerKindSpec<B> {
  /** For messages and folder names: `haproxy`, `nginx`. */
  readonly name: string;
  find(): string | undefined;
  notInstalled(): Error;
  /** The shipped example config. */
  exampleConfig(): string;
  /** The config file's name inside the private folder. */
  readonly configName: string;
  /** The template with its listen address set to `port` and the nodes' addresses to `backends`. */
  render(template: string, options: { port: number; backends: readonly B[] }): string;
  /** Command-line arguments, given the private folder and the rendered config's path. */
  args(dir: string, configFile: string): string[];
}

/**
 * Starts the balancer in the foreground on a free loopback port; retries with another port when
 * the bind races with another process (the port is only known free a moment before).
 *
 * @throws the kind's `notInstalled()` error when no binary is given or found.
 */
export async function startBalancerProcess<B>(spec: BalancerKindSpec<B>, options: BalancerStartOptions<B>): Promise<RunningBalancerProcess> {
  const binary = options.binary ?? spec.find();
  if (!binary) throw spec.notInstalled();
  const template = await readFile(options.template ?? spec.exampleConfig(), 'utf8');
  const dir = await mkdtemp(path.join(os.tmpdir(), `hotcold-${spec.name}-`));
  // nginx's workers drop root privileges; they must still reach their temp folders in here.
  await chmod(dir, 0o755);
  let lastError: unknown;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const configFile = path.join(dir, spec.configName);
      await writeFile(configFile, spec.render(template, { port, backends: options.backends }));
      const child = spawnManaged(spec.name, binary, spec.args(dir, configFile), {
        // Its own process group, so that `end` reaches worker processes too.
        detached: true,
        ...(options.onLine ? { onLine: (line: string) => options.onLine?.(line) } : {}),
      });
      try {
        await waitListening(spec.name, child, port, options.readyTimeoutMs ?? 5000);
      } catch (error) {
        lastError = error;
        await end(child);
        continue;
      }
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        configFile,
        dir,
        child,
        log: () => child.tail(),
        async stop() {
          await end(child);
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    lastError = error;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error(`${spec.name} did not start`);
}

/**
 * SIGTERM (both balancers shut down at once on it), SIGKILL after a grace period; then whatever
 * is left of the process group. An nginx worker outlives a SIGKILLed master and keeps the port.
 */
async function end(child: ManagedChild): Promise<void> {
  await child.stop({ signal: 'SIGTERM', graceMs: 2000 });
  const group = -child.pid;
  try {
    process.kill(group, 'SIGKILL');
  } catch {
    return; // ESRCH: the group is already empty, the usual case.
  }
  // Killed just now: wait (briefly) until it is gone and its sockets closed. An orphan that
  // nobody reaps stays a zombie, which holds nothing: give up waiting after a while.
  for (let waited = 0; waited < 2000; waited += 10) {
    try {
      process.kill(group, 0);
    } catch {
      return;
    }
    await sleep(10);
  }
}

async function waitListening(name: string, child: ManagedChild, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.hasExited()) throw new Error(`${name} exited before listening:\n${child.tail()}`);
    if (await canConnect(port, 200)) {
      // Connectable could, in a race, be another process on a reused port: check it is ours.
      if (child.hasExited()) throw new Error(`${name} exited before listening:\n${child.tail()}`);
      return;
    }
    await sleep(25);
  }
  throw new Error(`${name} did not listen on ${port} within ${timeoutMs} ms:\n${child.tail()}`);
}
