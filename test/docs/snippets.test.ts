/**
 * Every TypeScript snippet in README.md and docs/ type-checks against the sources, so the docs
 * cannot drift from the API.
 *
 * Each ```ts / ```typescript block becomes a module in a private folder inside the repository;
 * `hotcold` and its subpaths resolve to the sources through `paths` derived from package.json's
 * `exports` (a new entry point is picked up without touching this test). All modules compile in
 * one TypeScript program with the repository's strict options.
 *
 * Markers (put directly before the block; blank lines in between are allowed):
 * - `<!-- snippet: fragment -->` (or the info string ```ts fragment): an excerpt that is not
 *   meant to compile (elisions with `…`, an option object out of context). It is not compiled,
 *   but it must not compile either: a marked block that compiles loses its marker.
 * - `<!-- snippet: context` … `-->`: TypeScript that is compiled in front of the block and not
 *   shown to the reader (the `client` of the previous section, the application's own logger).
 *
 * The `@example` sections of the sources' TSDoc (what the API reference shows) are checked the
 * same way: a ```ts block in the section, or the whole section when it has no fence. An example
 * that cannot stand alone says so with ```ts fragment.
 */
import { mkdir, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));

interface Snippet {
  /** `docs/node.md:8`: the markdown file and the line of the opening fence. */
  readonly where: string;
  readonly file: string;
  /** 1-based line in the markdown of the block's first code line. */
  readonly firstLine: number;
  readonly code: string;
  readonly context: string;
  readonly fragment: boolean;
}

const TS_LANGS = new Set(['ts', 'typescript', 'mts']);

/**
 * `@example`s that do not compile yet (they use variables they do not declare), by file and
 * first line of code. Treated as fragments, so an entry fails once it compiles: then delete it.
 * Never add to it.
 */
const PENDING_EXAMPLES = new Set<string>([]);
const pendingKey = (s: Snippet): string => `${s.file}: ${s.code.split('\n')[0]?.trim() ?? ''}`;

/** Blocks of one markdown text, with the marker that precedes each. */
function extractSnippets(markdown: string, file: string): { snippets: Snippet[]; other: { where: string; lang: string; code: string }[] } {
  const lines = markdown.split('\n');
  const snippets: Snippet[] = [];
  const other: { where: string; lang: string; code: string }[] = [];
  let i = 0;
  while (i < lines.length) {
    const open = /^ {0,3}(`{3,}|~{3,})\s*([^\s`]*)\s*(.*)$/.exec(lines[i] ?? '');
    if (open === null) {
      i++;
      continue;
    }
    const fence = open[1] ?? '```';
    const lang = (open[2] ?? '').toLowerCase();
    const attrs = (open[3] ?? '').split(/\s+/).filter(Boolean);
    const start = i;
    const body: string[] = [];
    i++;
    while (i < lines.length && !new RegExp(`^ {0,3}${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[i] ?? '')) body.push(lines[i++] ?? '');
    i++; // the closing fence
    const where = `${file}:${start + 1}`;
    if (!TS_LANGS.has(lang)) {
      other.push({ where, lang, code: body.join('\n') });
      continue;
    }
    const marker = markerBefore(lines, start);
    snippets.push({
      where,
      file,
      firstLine: start + 2,
      code: body.join('\n'),
      context: marker?.context ?? '',
      fragment: attrs.includes('fragment') || marker?.fragment === true,
    });
  }
  return { snippets, other };
}

/** The `<!-- snippet: … -->` comment that ends on the last non-blank line before `fence`. */
function markerBefore(lines: readonly string[], fence: number): { fragment: boolean; context: string } | undefined {
  let end = fence - 1;
  while (end >= 0 && (lines[end] ?? '').trim() === '') end--;
  if (end < 0 || !(lines[end] ?? '').trimEnd().endsWith('-->')) return undefined;
  let begin = end;
  while (begin >= 0 && !(lines[begin] ?? '').includes('<!--')) begin--;
  if (begin < 0) return undefined;
  const text = lines.slice(begin, end + 1).join('\n');
  const m = /<!--\s*snippet:\s*(fragment|context)\b([\s\S]*?)-->\s*$/.exec(text);
  if (m === null) return undefined;
  return m[1] === 'fragment' ? { fragment: true, context: '' } : { fragment: false, context: (m[2] ?? '').trim() };
}

/**
 * `@example` sections of TSDoc comments in `source`: fenced ts blocks, or the whole section when
 * it has no fence (typedoc shows that as code).
 */
function extractExamples(source: string, file: string): Snippet[] {
  const found: Snippet[] = [];
  const lines = source.split('\n');
  let inComment = false;
  let section: { start: number; body: { line: number; text: string }[] } | undefined;
  const flush = (): void => {
    if (section === undefined) return;
    const body = section.body;
    section = undefined;
    const text = body.map((b) => b.text).join('\n');
    if (!/^\s*(`{3,}|~{3,})/m.test(text)) {
      const first = body.findIndex((b) => b.text.trim() !== '');
      if (first === -1) return;
      const code = body.slice(first).map((b) => b.text);
      const line = body[first]?.line ?? 0;
      found.push({ where: `${file}:${line}`, file, firstLine: line, code: code.join('\n'), context: '', fragment: false });
      return;
    }
    for (const block of extractSnippets(text, file).snippets) {
      const line = body[block.firstLine - 1]?.line ?? 0;
      found.push({ ...block, where: `${file}:${line - 1}`, firstLine: line });
    }
  };
  for (const [i, raw] of lines.entries()) {
    const line = i + 1;
    if (!inComment) {
      if (/^\s*\/\*\*/.test(raw) && !raw.includes('*/')) inComment = true;
      continue;
    }
    if (raw.includes('*/')) {
      flush();
      inComment = false;
      continue;
    }
    const text = raw.replace(/^\s*\* ?/, '');
    const tag = /^@(\w+)/.exec(text);
    const fenceOpen = section !== undefined && (section.body.map((b) => b.text).join('\n').match(/^\s*```/gm)?.length ?? 0) % 2 === 1;
    if (tag !== null && !fenceOpen) {
      flush();
      if (tag[1] === 'example') section = { start: line, body: [] };
      continue;
    }
    section?.body.push({ line, text });
  }
  return found;
}

async function sourceFiles(dir = 'src'): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) found.push(...(await sourceFiles(rel)));
    else if (entry.name.endsWith('.ts')) found.push(rel);
  }
  return found.sort();
}

async function markdownFiles(): Promise<string[]> {
  const found = ['README.md'];
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(join(root, dir), { withFileTypes: true })) {
      const rel = `${dir}/${entry.name}`;
      if (entry.isDirectory()) {
        if (rel !== 'docs/api') await walk(rel); // docs/api is typedoc's generated output
      } else if (entry.name.endsWith('.md')) found.push(rel);
    }
  };
  await walk('docs');
  return found.sort();
}

/** `hotcold`, `hotcold/lease`, … → the source entry point of each `exports` entry. */
async function pathsFromExports(): Promise<Record<string, string[]>> {
  const pkg = JSON.parse(await readFile(join(root, 'package.json'), 'utf8')) as {
    name: string;
    exports: Record<string, string | { types?: string }>;
  };
  const paths: Record<string, string[]> = {};
  for (const [key, target] of Object.entries(pkg.exports)) {
    const types = typeof target === 'string' ? target : target.types;
    if (types === undefined || !types.endsWith('.d.ts')) continue;
    const source = types.replace(/^\.\/dist\//, './src/').replace(/\.d\.ts$/, '.ts');
    paths[key === '.' ? pkg.name : `${pkg.name}/${key.slice(2)}`] = [join(root, source)];
  }
  return paths;
}

function compilerOptions(paths: Record<string, string[]>): ts.CompilerOptions {
  const configPath = join(root, 'tsconfig.json');
  const config = ts.readConfigFile(configPath, (p) => ts.sys.readFile(p));
  if (config.error !== undefined) throw new Error(ts.flattenDiagnosticMessageText(config.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, root, undefined, configPath);
  return { ...parsed.options, strict: true, noEmit: true, declaration: false, sourceMap: false, paths, baseUrl: undefined };
}

const scratch = join(root, '.tmp', `snippets-${process.pid}`);
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

interface Checked {
  readonly snippet: Snippet;
  readonly errors: string[];
}

async function checkAll(): Promise<{ checked: Checked[]; untagged: string[] }> {
  const snippets: Snippet[] = [];
  const untagged: string[] = [];
  for (const file of await markdownFiles()) {
    const { snippets: found, other } = extractSnippets(await readFile(join(root, file), 'utf8'), file);
    snippets.push(...found);
    // A block that imports the package is TypeScript: it must say so to be checked.
    for (const block of other) if (/from\s+['"]hotcold(\/[\w-]+)?['"]/.test(block.code) && !['js', 'javascript', 'mjs', 'cjs'].includes(block.lang)) untagged.push(block.where);
  }
  for (const file of await sourceFiles()) {
    const source = await readFile(join(root, file), 'utf8');
    if (source.includes('@example')) {
      for (const example of extractExamples(source, file)) snippets.push({ ...example, fragment: example.fragment || PENDING_EXAMPLES.has(pendingKey(example)) });
    }
  }
  await rm(scratch, { recursive: true, force: true });
  await mkdir(scratch, { recursive: true });
  // One module per snippet: the hidden context, then the block, then `export {}` so a block
  // without imports is a module too (top-level await, no clashes between blocks).
  const modules = new Map<string, { snippet: Snippet; contextLines: number }>();
  for (const [n, snippet] of snippets.entries()) {
    const name = join(scratch, `${String(n).padStart(3, '0')}-${snippet.file.replace(/[^\w]+/g, '_')}-${snippet.firstLine - 1}.ts`);
    const context = snippet.context === '' ? '' : `${snippet.context}\n`;
    await writeFile(name, `${context}${snippet.code}\nexport {};\n`);
    modules.set(name, { snippet, contextLines: context === '' ? 0 : context.split('\n').length - 1 });
  }
  const program = ts.createProgram([...modules.keys()], compilerOptions(await pathsFromExports()));
  const errors = new Map<string, string[]>([...modules.keys()].map((k) => [k, []]));
  for (const d of ts.getPreEmitDiagnostics(program)) {
    if (d.file === undefined) continue;
    const name = d.file.fileName;
    const entry = modules.get(name);
    if (entry === undefined) continue; // the sources are tsc's job
    const { line } = d.file.getLineAndCharacterOfPosition(d.start ?? 0);
    const inBlock = line - entry.contextLines;
    const at = inBlock >= 0 ? `${entry.snippet.file}:${entry.snippet.firstLine + inBlock}` : `${entry.snippet.where} (context line ${line + 1})`;
    errors.get(name)?.push(`${at}: TS${d.code} ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`);
  }
  return { checked: [...modules].map(([name, { snippet }]) => ({ snippet, errors: errors.get(name) ?? [] })), untagged };
}

describe('code snippets in README.md and docs/', () => {
  // One compilation for every test below; each awaits it (and sees its failure, if any).
  const result = checkAll();
  result.catch(() => undefined);

  it('finds the TypeScript snippets, and every block that imports hotcold is tagged ts', async () => {
    const { checked, untagged } = await result;
    expect(checked.length).toBeGreaterThan(10);
    expect(checked.some((c) => c.snippet.file === 'README.md')).toBe(true);
    // isRPCException's @example, the only one in src/errors.ts; by file, not line, so that an edit above
    // it does not break this test.
    expect(checked.some((c) => c.snippet.where.startsWith('src/errors.ts:'))).toBe(true);
    expect(untagged).toEqual([]);
  }, 120_000);

  it('every snippet not marked as a fragment compiles in strict mode', async () => {
    const { checked } = await result;
    const failing = checked.filter((c) => !c.snippet.fragment && c.errors.length > 0).flatMap((c) => c.errors);
    expect(failing, 'fix the snippet, or mark an excerpt with <!-- snippet: fragment -->').toEqual([]);
  }, 120_000);

  it('every snippet marked as a fragment really is one (else it drops the marker and is checked)', async () => {
    const { checked } = await result;
    const compiling = checked.filter((c) => c.snippet.fragment && c.errors.length === 0).map((c) => c.snippet.where);
    expect(compiling).toEqual([]);
  }, 120_000);

  it('the README client example reports kind, mayHaveExecuted and message of a failed call', async () => {
    const { checked } = await result;
    const readme = checked.find((c) => c.snippet.file === 'README.md' && c.snippet.code.includes('createClient('));
    expect(readme?.snippet.fragment).toBe(false);
    for (const field of ['.kind', '.mayHaveExecuted', '.message']) expect(readme?.snippet.code).toContain(field);
  }, 120_000);
});

describe('extractExamples', () => {
  it('reads fenced and unfenced @example sections of TSDoc comments', () => {
    const src = [
      '/**', // 1
      ' * Does a thing.', // 2
      ' * @example', // 3
      ' * ```ts', // 4
      ' * const a = 1;', // 5
      ' * // @ts-expect-error not a tag', // 6
      ' * ```', // 7
      ' * @throws never', // 8
      ' */', // 9
      'export const x = 1;', // 10
      '/**', // 11
      ' * @example', // 12
      ' * const b = 2;', // 13
      ' */', // 14
    ].join('\n');
    const found = extractExamples(src, 'src/x.ts');
    expect(found.map((e) => [e.where, e.firstLine, e.code])).toEqual([
      ['src/x.ts:4', 5, 'const a = 1;\n// @ts-expect-error not a tag'],
      ['src/x.ts:13', 13, 'const b = 2;'],
    ]);
  });
});

describe('extractSnippets', () => {
  it('reads fences, languages and markers', () => {
    const md = [
      '# t', // 1
      '```ts', // 2
      'const a = 1;', // 3
      '```', // 4
      '<!-- snippet: fragment -->', // 5
      '', // 6
      '```typescript', // 7
      'x…', // 8
      '```', // 9
      '```ts fragment', // 10
      'y', // 11
      '```', // 12
      '<!-- snippet: context', // 13
      'declare const c: number;', // 14
      '-->', // 15
      '````ts', // 16
      '```', // 17
      'c;', // 18
      '````', // 19
      '```sh', // 20
      'npm test', // 21
      '```', // 22
    ].join('\n');
    const { snippets, other } = extractSnippets(md, 'x.md');
    expect(snippets.map((s) => [s.where, s.firstLine, s.fragment, s.context])).toEqual([
      ['x.md:2', 3, false, ''],
      ['x.md:7', 8, true, ''],
      ['x.md:10', 11, true, ''],
      ['x.md:16', 17, false, 'declare const c: number;'],
    ]);
    expect(snippets[3]?.code).toBe('```\nc;');
    expect(other).toEqual([{ where: 'x.md:20', lang: 'sh', code: 'npm test' }]);
  });
});
