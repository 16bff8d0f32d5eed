import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnManaged, type ManagedChild } from './child.js';
import { canConnect, freePort } from './ports.js';
import { sleep } from '../../shared/sleep.js';

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
  const fromEnv = process.env.HAPROXY_BIN;
  if (fromEnv) return existsSync(fromEnv) ? fromEnv : undefined;
  const onPath = (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((dir) => path.join(dir, 'haproxy'));
  return [...CANDIDATES, ...onPath].find((candidate) => existsSync(candidate));
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

export interface RunningHaproxy {
  /** `http://127.0.0.1:<port>`: the frontend the clients call. */
  readonly url: string;
  readonly port: number;
  readonly configFile: string;
  readonly child: ManagedChild;
  /** HAProxy's log lines so far (server UP/DOWN transitions). */
  log(): string;
  stop(): Promise<void>;
}

export interface StartHaproxyOptions {
  backends: readonly HaproxyBackend[];
  /** Template file; default the shipped example. */
  template?: string;
  binary?: string;
  readyTimeoutMs?: number;
  onLine?: (line: string) => void;
}

export class HaproxyNotInstalledError extends Error {
  constructor() {
    super('HAProxy is not installed (looked for $HAPROXY_BIN, /usr/sbin/haproxy and haproxy on PATH); install it (apt-get install haproxy) or use the dev balancer');
    this.name = 'HaproxyNotInstalledError';
  }
}

/** Starts HAProxy on a free loopback port; retries with another port if the bind races. */
export async function startHaproxy(options: StartHaproxyOptions): Promise<RunningHaproxy> {
  const binary = options.binary ?? findHaproxy();
  if (!binary) throw new HaproxyNotInstalledError();
  const template = await readFile(options.template ?? exampleConfigPath(), 'utf8');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'hotcold-haproxy-'));
  let lastError: unknown;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      const port = await freePort();
      const configFile = path.join(dir, 'haproxy.cfg');
      await writeFile(configFile, renderHaproxyConfig(template, { port, backends: options.backends }));
      const child = spawnManaged('haproxy', binary, ['-f', configFile, '-db'], {
        ...(options.onLine ? { onLine: (line: string) => options.onLine?.(line) } : {}),
      });
      try {
        await waitListening(child, port, options.readyTimeoutMs ?? 5000);
      } catch (error) {
        lastError = error;
        await child.stop({ signal: 'SIGKILL' });
        continue;
      }
      return {
        url: `http://127.0.0.1:${port}`,
        port,
        configFile,
        child,
        log: () => child.tail(),
        async stop() {
          await child.stop({ signal: 'SIGTERM', graceMs: 2000 });
          await rm(dir, { recursive: true, force: true });
        },
      };
    }
  } catch (error) {
    lastError = error;
  }
  await rm(dir, { recursive: true, force: true });
  throw lastError instanceof Error ? lastError : new Error('haproxy did not start');
}

async function waitListening(child: ManagedChild, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.hasExited()) throw new Error(`haproxy exited before listening:\n${child.tail()}`);
    if (await canConnect(port, 200)) {
      // Connectable could, in a race, be another process on a reused port: check it is ours.
      if (child.hasExited()) throw new Error(`haproxy exited before listening:\n${child.tail()}`);
      return;
    }
    await sleep(25);
  }
  throw new Error(`haproxy did not listen on ${port} within ${timeoutMs} ms:\n${child.tail()}`);
}
