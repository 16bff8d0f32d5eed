/**
 * The guides' self-contained scripts, run as written in their own process (snippets.test.ts only
 * type-checks them): each needs nothing but loopback and a temp file, so a reader who pastes it
 * into a file and runs it sees it finish. Only two things are changed: `hotcold…` imports point
 * at the sources, and a `/tmp/….db` path at a private folder. A script that leaves a listener or
 * a lease open never exits: that is the fault this catches.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = join(root, '.tmp', `runnable-snippets-${process.pid}`);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

const ENTRY: Record<string, string> = {
  hotcold: 'src/index.ts',
  'hotcold/lease': 'src/lease/index.ts',
  'hotcold/node': 'src/node/index.ts',
  'hotcold/testing': 'src/testing/index.ts',
};

/** The ```ts block of `doc` that contains `marker`. */
async function block(doc: string, marker: string): Promise<string> {
  const text = await readFile(join(root, doc), 'utf8');
  const found = [...text.matchAll(/^```(?:ts|typescript)\s*\n([\s\S]*?)^```\s*$/gm)].map((m) => m[1] ?? '').filter((b) => b.includes(marker));
  if (found.length !== 1) throw new Error(`${doc}: ${found.length} ts blocks contain ${marker}`);
  return found[0] ?? '';
}

async function runScript(name: string, code: string): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }> {
  const dir = join(scratch, name);
  await mkdir(dir, { recursive: true });
  let source = code.replace(/'\/tmp\/([\w.-]+\.db)'/g, (_, file: string) => `'${join(dir, file)}'`);
  for (const [specifier, path] of Object.entries(ENTRY)) source = source.replaceAll(`from '${specifier}'`, `from '${pathToFileURL(join(root, path)).href}'`);
  const file = join(dir, 'script.ts');
  await writeFile(file, source);
  const proc = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // A guard against a hang, not a timing assertion: the script must end by itself.
  const killer = setTimeout(() => proc.kill('SIGKILL'), 120_000);
  const [exit, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
  clearTimeout(killer);
  return { code: exit, signal, stdout, stderr };
}

describe('self-contained scripts of the guides run as written and end by themselves', () => {
  it('docs/testing.md, the conformance kit against a reference node: CONFORMS, exit 0', async () => {
    const ran = await runScript('conformance-kit', await block('docs/testing.md', 'runConformance(url)'));
    expect(ran.signal, `did not end by itself\n${ran.stdout}\n${ran.stderr}`).toBeNull();
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/\d+ passed, 0 failed, \d+ skipped: CONFORMS/);
  }, 180_000);

  it('docs/testing.md, the fault server: an unknown outcome, then refuse/resume/setNode', async () => {
    const ran = await runScript('fault-server', await block('docs/testing.md', "server.enqueue('reset-after-request')"));
    expect(ran.signal, `did not end by itself\n${ran.stdout}\n${ran.stderr}`).toBeNull();
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout.trim()).toBe('true true');
  }, 180_000);

  it('docs/rest.md, the REST ledger node: its URL and an empty ledger', async () => {
    const ran = await runScript('rest-ledger', await block('docs/rest.md', 'createRestLedgerNode({ lease, port: 0 })'));
    expect(ran.signal, `did not end by itself\n${ran.stdout}\n${ran.stderr}`).toBeNull();
    expect(ran.code, ran.stderr).toBe(0);
    expect(ran.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+ 0$/m);
  }, 180_000);
});
