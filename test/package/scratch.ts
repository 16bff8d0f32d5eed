/**
 * A user's project in a temp folder with the packed tarball installed: what `npm pack` ships,
 * installed the way a user installs it, then imported, required, compiled against and run.
 */
import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

export interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a child: npm passes its own settings down to scripts (`npm_config_local_prefix`
 * would point a nested `npm install` at this repository), so every `npm_*` variable is dropped.
 */
export function cleanEnv(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) if (!/^npm_/i.test(key)) env[key] = value;
  return { ...env, FORCE_COLOR: '0', ...extra };
}

/** Runs a command to its end (never throws for a non-zero exit: the caller asserts on it). */
export function run(command: string, args: readonly string[], options: { cwd: string; env?: NodeJS.ProcessEnv; timeoutMs?: number }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      command,
      [...args],
      { cwd: options.cwd, env: options.env ?? cleanEnv(), timeout: options.timeoutMs ?? 300_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof (error as { code?: unknown }).code !== 'number' && !('signal' in error && error.signal)) {
          // An ExecFileException is an Error (@types/node declares it as an Omit<> of one, which the rule
          // does not recognise as an Error).
          // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors
          reject(error);
          return;
        }
        resolve({ code: child.exitCode, stdout, stderr });
      },
    );
  });
}

export interface Packed {
  /** The .tgz file. */
  tarball: string;
  /** The paths in the tarball, relative to the package root (`dist/index.js`, `LICENSE` …). */
  files: string[];
  /** The tarball's package.json. */
  manifest: PackageManifest;
  /** A folder that `dispose()` removes. */
  dir: string;
}

export interface PackageManifest {
  name: string;
  version: string;
  exports: Record<string, string | Record<string, string>>;
  scripts?: Record<string, string>;
  bin?: Record<string, string>;
  [key: string]: unknown;
}

/** `npm pack` of this repository (its `prepack` builds dist/), into a temp folder. */
export async function packRepo(): Promise<Packed> {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-pack-'));
  const packed = await run('npm', ['pack', '--json', '--pack-destination', dir], { cwd: repoRoot, timeoutMs: 600_000 });
  if (packed.code !== 0) throw new Error(`npm pack failed (${String(packed.code)}):\n${packed.stderr}`);
  // npm prints the prepack script's output before the JSON.
  const json = packed.stdout.slice(packed.stdout.indexOf('\n[') + 1);
  const [info] = JSON.parse(json) as Array<{ filename: string; files: Array<{ path: string }> }>;
  if (!info) throw new Error(`npm pack printed no package:\n${packed.stdout}`);
  const tarball = join(dir, info.filename.replace(/^@[^/]+\//, '').replace('/', '-'));
  const extracted = join(dir, 'extracted');
  mkdirSync(extracted);
  const untar = await run('tar', ['-xzf', tarball, '-C', extracted], { cwd: dir });
  if (untar.code !== 0) throw new Error(`tar failed: ${untar.stderr}`);
  const manifest = JSON.parse(readFileSync(join(extracted, 'package', 'package.json'), 'utf8')) as PackageManifest;
  return { tarball, files: info.files.map((f) => f.path), manifest, dir };
}

/** The tarball's extracted copy of a shipped file. */
export function shippedFile(packed: Packed, path: string): string {
  return join(packed.dir, 'extracted', 'package', path);
}

/** The import names of the package: `hotcold` for `.`, `hotcold/lease` for `./lease` … (package.json excluded). */
export function entryPoints(manifest: PackageManifest): string[] {
  return Object.keys(manifest.exports)
    .filter((key) => !key.endsWith('.json'))
    .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
}

export interface Scratch {
  dir: string;
  /** Makes a package of this repository's node_modules visible to the scratch project (a symlink). */
  link(name: string): void;
  write(path: string, text: string): void;
  dispose(): void;
}

/** An empty CommonJS project (no "type") in a temp folder, with the tarball installed. */
export async function scratchProject(tarball: string): Promise<Scratch> {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-consumer-'));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: 'hotcold-consumer', version: '1.0.0', private: true }, null, 2)}\n`);
  const install = await run('npm', ['install', tarball, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=warn'], { cwd: dir, timeoutMs: 600_000 });
  if (install.code !== 0) throw new Error(`npm install of the tarball failed (${String(install.code)}):\n${install.stdout}\n${install.stderr}`);
  return {
    dir,
    link(name) {
      const target = join(dir, 'node_modules', name);
      mkdirSync(dirname(target), { recursive: true });
      symlinkSync(join(repoRoot, 'node_modules', name), target, 'dir');
    },
    write(path, text) {
      mkdirSync(dirname(join(dir, path)), { recursive: true });
      writeFileSync(join(dir, path), text);
    },
    dispose() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The paths of the numbers in a JSON value that are not whole. */
export function nonIntegers(value: unknown, path = '$'): string[] {
  if (typeof value === 'number') return Number.isInteger(value) ? [] : [`${path}=${value}`];
  if (value !== null && typeof value === 'object') return Object.entries(value).flatMap(([k, v]) => nonIntegers(v, `${path}.${k}`));
  return [];
}
