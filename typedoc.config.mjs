// @ts-check
/**
 * API reference: one typedoc module per entry point in package.json's `exports`, so a new
 * subpath is documented (and validated) without touching this file. Every exported symbol must
 * have TSDoc (`validation.notDocumented`), every type the API uses must be exported
 * (`validation.notExported`), and every warning fails the run. `npm run docs` writes docs/api/
 * (generated, not committed); `npm run docs:check` validates without writing.
 */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

/**
 * The symbols still waiting for their TSDoc (or their export), so that validation is strict for
 * everything else today. typedoc warns about an entry that is no longer needed: delete it then.
 * The list only shrinks.
 */
const baseline = JSON.parse(readFileSync(new URL('./typedoc.baseline.json', import.meta.url), 'utf8'));

/** `./dist/lease/index.d.ts` → `./src/lease/index.ts` for every entry with types. */
const entryPoints = Object.values(pkg.exports)
  .map((target) => (typeof target === 'string' ? target : target.types))
  .filter((types) => typeof types === 'string' && types.endsWith('.d.ts'))
  .map((types) => types.replace(/^\.\/dist\//, './src/').replace(/\.d\.ts$/, '.ts'));

/** @type {Partial<import('typedoc').TypeDocOptions>} */
const config = {
  name: pkg.name,
  entryPoints,
  tsconfig: './tsconfig.build.json',
  out: './docs/api',
  readme: './README.md',
  excludePrivate: true,
  excludeInternal: true,
  sort: ['source-order'],
  validation: { notExported: true, invalidLink: true, invalidPath: true, notDocumented: true },
  intentionallyNotDocumented: baseline.intentionallyNotDocumented,
  intentionallyNotExported: baseline.intentionallyNotExported,
  treatWarningsAsErrors: true,
  githubPages: false,
};

export default config;
