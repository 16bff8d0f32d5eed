/**
 * The README's client example, run as written (only its URL is pointed at a real fault server
 * on loopback) in its own process: when the call fails it prints what happened — the kind,
 * whether the call may have run, and the message — and exits by itself.
 */
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { startFaultServer, type FaultModeName } from 'hotcold/testing';

const root = fileURLToPath(new URL('../..', import.meta.url));
const scratch = join(root, '.tmp', `readme-client-${process.pid}`);

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** The first ```ts block of README.md that creates a client. */
async function readmeExample(): Promise<{ code: string; url: string }> {
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```(?:ts|typescript)\s*\n([\s\S]*?)^```\s*$/gm)].map((m) => m[1] ?? '');
  const code = blocks.find((b) => b.includes('createClient('));
  if (code === undefined) throw new Error('README.md has no ts block with createClient(');
  const url = /url:\s*'([^']+)'/.exec(code)?.[1];
  if (url === undefined) throw new Error("README.md's client example has no url: '…' option");
  return { code, url };
}

// A mode's name, not a FaultSpec: the name goes into the scratch file's name.
async function runExample(mode: FaultModeName): Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; requests: number }> {
  const { code, url } = await readmeExample();
  const server = await startFaultServer();
  try {
    server.enqueue(mode);
    await mkdir(scratch, { recursive: true });
    const file = join(scratch, `example-${mode}.ts`);
    const entry = pathToFileURL(join(root, 'src/index.ts')).href;
    await writeFile(file, code.replace(`'${url}'`, `'${server.url}'`).replace(/from 'hotcold'/g, `from '${entry}'`));
    const proc = spawn(process.execPath, ['--import', 'tsx', file], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    proc.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // A guard against a hang, not a timing assertion: the example must exit by itself.
    const killer = setTimeout(() => proc.kill('SIGKILL'), 60_000);
    const [exit, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => proc.once('exit', (c, s) => resolve([c, s])));
    clearTimeout(killer);
    return { code: exit, signal, stdout, stderr, requests: server.requests.length };
  } finally {
    await server.close();
  }
}

describe("README's client example", () => {
  it('prints kind, mayHaveExecuted and message when the call may have run (reset after the request was read)', async () => {
    const run = await runExample('reset-after-request');
    expect(run.signal, `did not exit by itself\n${run.stdout}\n${run.stderr}`).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    expect(run.requests).toBe(1); // transfer is not idempotent: an unknown outcome is not repeated
    expect(run.stderr).toMatch(/^transfer failed: unknown-outcome, mayHaveExecuted=true: \S.*$/m);
  }, 90_000);

  it('prints mayHaveExecuted=false when the call certainly did not run (401 Unauthorized)', async () => {
    const run = await runExample('unauthorized');
    expect(run.signal, `did not exit by itself\n${run.stdout}\n${run.stderr}`).toBeNull();
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^transfer failed: authentication, mayHaveExecuted=false: \S.*$/m);
  }, 90_000);
});
