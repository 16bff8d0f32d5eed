/**
 * What the benchmarks measure: the built package (`dist/`, what users run), loaded as plain
 * JavaScript. Run through tsx, the sources would carry esbuild's `keepNames` wrappers — every
 * function made per call pays a `__name` call — which would charge hotcold for a cost its users
 * never pay. `npm run bench` builds first; `HOTCOLD_BENCH_FROM=src` measures the sources instead
 * (to compare a change without a build), and the table says which was measured.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

type Core = typeof import('../src/index.js');
type Axios = typeof import('../src/axios/index.js');
type Grpc = typeof import('../src/grpc/index.js');

/** Where the measured code came from: `dist` (built) or `src` (through tsx). */
export const SUBJECT_FROM: 'dist' | 'src' = process.env.HOTCOLD_BENCH_FROM === 'src' ? 'src' : 'dist';

function entry(name: string): string {
  const file = SUBJECT_FROM === 'src' ? `../src/${name}.ts` : `../dist/${name}.js`;
  const url = new URL(file, import.meta.url);
  if (!existsSync(fileURLToPath(url))) {
    throw new Error(`bench: ${fileURLToPath(url)} is missing: run \`npm run build\` (npm run bench does), or set HOTCOLD_BENCH_FROM=src`);
  }
  return url.href;
}

/** The `hotcold` entry point under measurement. */
export async function loadCore(): Promise<Core> {
  return (await import(entry('index'))) as Core;
}

/** The `hotcold/axios` entry point under measurement. */
export async function loadAxios(): Promise<Axios> {
  return (await import(entry('axios/index'))) as Axios;
}

/** The `hotcold/grpc` entry point under measurement. */
export async function loadGrpc(): Promise<Grpc> {
  return (await import(entry('grpc/index'))) as Grpc;
}
