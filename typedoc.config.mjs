// @ts-check
/**
 * API reference: one typedoc module per entry point in package.json's `exports`, so a new
 * subpath is documented (and validated) without touching this file. Every exported symbol must
 * have TSDoc (`validation.notDocumented`), every type the API uses must be exported
 * (`validation.notExported`), and every warning fails the run (`treatWarningsAsErrors`); there is
 * no baseline of excused symbols. `npm run docs` writes docs/api/ (generated, not committed);
 * `npm run docs:check` validates without writing, and `npm test` runs it after tsc; it links no
 * sources (`--disableSources`), so a checkout without a git remote (an export, a fresh `git init`)
 * does not fail on typedoc's "git remote is not valid" warning.
 */
import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('./package.json', import.meta.url), 'utf8'));

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
  // `createAxiosTransport(options, secrets)`: the second parameter is how hotcold's own client
  // hands the transport the scope its credentials are scrubbed in. `SecretScope` is @internal
  // (not part of the API, free to change); users leave the parameter out. Nothing else may be
  // listed here: every other exported symbol is documented and every type the API uses exported.
  intentionallyNotExported: ['src/shared/redact.ts:SecretScope'],
  treatWarningsAsErrors: true,
  githubPages: false,
};

export default config;
