/**
 * docs/rest.md's snippets compile: every ```ts block is type-checked, each as its own module,
 * against the sources (the package's public names through tsconfig's paths), with the project's
 * strict options.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('docs/rest.md', () => {
  it('every ts snippet type-checks', async () => {
    const doc = await readFile(path.join(root, 'docs/rest.md'), 'utf8');
    const snippets = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] ?? '');
    expect(snippets.length).toBeGreaterThanOrEqual(4);
    // Inside the repository, so `axios` and the paths resolve as they do for the examples.
    const dir = await mkdtemp(path.join(root, 'test', '.docs-rest-'));
    try {
      const files: string[] = [];
      for (const [i, code] of snippets.entries()) {
        const file = path.join(dir, `snippet-${i}.ts`);
        await writeFile(file, `${code}\nexport {};\n`);
        files.push(file);
      }
      const config = ts.readConfigFile(path.join(root, 'tsconfig.json'), (f) => ts.sys.readFile(f));
      const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root);
      const program = ts.createProgram(files, { ...parsed.options, noEmit: true });
      const diagnostics = ts
        .getPreEmitDiagnostics(program)
        .filter((d) => d.file === undefined || files.includes(path.resolve(d.file.fileName)))
        .map((d) => `${d.file ? path.basename(d.file.fileName) : ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
      expect(diagnostics).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 120_000);
});
