/**
 * `npm run bench [-- suite ...]`: runs the benchmark suites (client, lease, failover), prints one
 * table and writes bench/results/<suite>.json. Suites are loaded on demand so one can run alone.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { printTable, type BenchRow } from './report.js';
import { SUBJECT_FROM } from './subject.js';

type Suite = () => Promise<BenchRow[]>;

const suites: Record<string, () => Promise<Suite>> = {
  client: async () => (await import('./client.js')).runBench,
  lease: async () => (await import('./lease.js')).runBench,
  failover: async () => (await import('./failover.js')).runBench,
  // The REST rows alone (they also run as part of `client`).
  rest: async () => (await import('./rest.js')).restRows,
};

const here = path.dirname(fileURLToPath(import.meta.url));
const requested = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const names = requested.length > 0 ? requested : Object.keys(suites);

const all: BenchRow[] = [];
await mkdir(path.join(here, 'results'), { recursive: true });
for (const name of names) {
  const load = suites[name];
  if (!load) {
    process.stderr.write(`bench: unknown suite '${name}' (have: ${Object.keys(suites).join(', ')})\n`);
    process.exit(2);
  }
  process.stderr.write(`bench: running ${name}...\n`);
  const rows = await (await load())();
  all.push(...rows);
  const meta = { suite: name, measured: SUBJECT_FROM, node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), date: new Date().toISOString() };
  await writeFile(path.join(here, 'results', `${name}.json`), `${JSON.stringify({ ...meta, rows }, null, 2)}\n`);
}
process.stdout.write(`${printTable(all)}\n`);
// Rates depend on what else the machine runs: say how loaded it was.
process.stdout.write(`measured: ${SUBJECT_FROM === 'dist' ? 'the built package (dist/)' : 'the sources through tsx (HOTCOLD_BENCH_FROM=src)'}\n`);
process.stdout.write(`node ${process.version}, ${os.cpus().length} cpus, load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}\n`);
