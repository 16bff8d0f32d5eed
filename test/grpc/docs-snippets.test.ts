/**
 * docs/grpc.md's snippets compile: every ```ts block is type-checked as its own module against
 * the sources (as `hotcold`), with the project's compiler options.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
// Inside the project, so the snippets resolve its node_modules and its "type": "module".
mkdirSync(join(root, 'node_modules', '.cache'), { recursive: true });
const dir = mkdtempSync(join(root, 'node_modules', '.cache', 'hotcold-grpc-snippets-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function snippets(doc: string): string[] {
  const text = readFileSync(join(root, doc), 'utf8');
  return [...text.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1] as string);
}

describe('docs/grpc.md', () => {
  it('every TypeScript snippet compiles', () => {
    const blocks = snippets('docs/grpc.md');
    expect(blocks.length).toBeGreaterThanOrEqual(1);
    const files = blocks.map((code, i) => {
      const file = join(dir, `snippet-${i}.ts`);
      // Each snippet is a module of its own (top-level await needs one).
      writeFileSync(file, `${code}\nexport {};\n`);
      return file;
    });
    const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, {
      ...ts.sys,
      onUnRecoverableConfigFileDiagnostic: (d) => {
        throw new Error(ts.flattenDiagnosticMessageText(d.messageText, '\n'));
      },
    });
    if (config === undefined) throw new Error('tsconfig.json not readable');
    const program = ts.createProgram(files, { ...config.options, noEmit: true, declaration: false, sourceMap: false });
    const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => d.file === undefined || files.includes(d.file.fileName));
    const messages = diagnostics.map((d) => `${d.file?.fileName.replace(dir, '') ?? ''}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
    expect(messages).toEqual([]);
  }, 120_000);
});
