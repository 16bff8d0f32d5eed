/**
 * The package as a user gets it: `npm pack` (which builds on `prepack`), the tarball installed with
 * `npm install <tarball>` in a fresh project in a temp folder, then
 *   - every entry point of package.json's `exports` (iterated, so a new one is covered at once)
 *     imported from ESM and require()d from CommonJS;
 *   - strict TypeScript consumers (`skipLibCheck: false`, `module: nodenext`, CommonJS and ESM)
 *     compiled WITHOUT any optional driver or its types, then run; and compiled again WITH the
 *     drivers' types, where a real driver object is accepted and `sqliteStore(123)` still is not;
 *   - a module trace: importing an entry point loads no CLI, no testing helper, no driver;
 *   - the shipped files: LICENSE, metadata, no install script, source maps that resolve, markdown
 *     links that reach shipped files or the repository;
 *   - the `hotcold` bin from the tarball: --version, and demo --json printing only JSON.
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, posix } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanEnv, entryPoints, nonIntegers, packRepo, repoRoot, run, scratchProject, shippedFile, type Packed, type Scratch } from './scratch.js';

const DRIVERS = ['better-sqlite3', 'pg', 'mysql2', '@grpc/grpc-js'] as const;
const DRIVER_TYPES = ['@types/better-sqlite3', '@types/pg'] as const;
const REPOSITORY = 'https://github.com/hotcold-dev/hotcold';
const tsc = join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc');

let packed: Packed;
let scratch: Scratch;
let entries: string[];

beforeAll(async () => {
  packed = await packRepo();
  entries = entryPoints(packed.manifest);
  scratch = await scratchProject(packed.tarball);
  // Every TypeScript user has Node's types; nothing else of this repository is visible.
  scratch.link('@types/node');
}, 900_000);

afterAll(() => {
  scratch?.dispose();
  if (packed) void run('rm', ['-rf', packed.dir], { cwd: repoRoot });
});

const node = (args: string[], env: NodeJS.ProcessEnv = {}) => run(process.execPath, args, { cwd: scratch.dir, env: cleanEnv(env), timeoutMs: 120_000 });

const tsconfig = (files: string[], types: string[] = ['node']): string =>
  `${JSON.stringify(
    {
      compilerOptions: {
        strict: true,
        skipLibCheck: false,
        module: 'nodenext',
        moduleResolution: 'nodenext',
        target: 'es2022',
        lib: ['es2023'],
        types,
        noUncheckedIndexedAccess: true,
        exactOptionalPropertyTypes: true,
        outDir: 'out',
      },
      files,
    },
    null,
    2,
  )}\n`;

describe('the packed tarball', () => {
  it('exports every entry point for import, require and types, and has no install script', () => {
    expect(entries).toEqual(expect.arrayContaining(['hotcold', 'hotcold/lease', 'hotcold/node', 'hotcold/testing']));
    for (const [key, target] of Object.entries(packed.manifest.exports)) {
      if (key.endsWith('.json')) continue;
      expect(typeof target, key).toBe('object');
      const conditions = target as Record<string, string>;
      // `types` first (TypeScript takes the first matching condition), `default` last.
      expect(Object.keys(conditions)[0], key).toBe('types');
      expect(Object.keys(conditions).at(-1), key).toBe('default');
      for (const condition of ['types', 'import', 'require', 'default']) {
        expect(conditions[condition], `${key} ${condition}`).toBeDefined();
        expect(packed.files, `${key} ${condition}: ${conditions[condition]}`).toContain(posix.normalize(conditions[condition] ?? ''));
      }
    }
    const scripts = packed.manifest.scripts ?? {};
    // Consumers run these on install (and npm warns about them); the build belongs to prepack.
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(scripts[hook], hook).toBeUndefined();
    expect(scripts.prepack).toMatch(/build/);
    for (const bin of Object.values(packed.manifest.bin ?? {})) expect(packed.files).toContain(posix.normalize(bin));
  });

  it('ships the Apache-2.0 LICENSE it declares, and says where the project lives', () => {
    expect(packed.manifest.license).toBe('Apache-2.0');
    expect(packed.files).toContain('LICENSE');
    const license = readFileSync(shippedFile(packed, 'LICENSE'), 'utf8');
    expect(license).toContain('Apache License');
    expect(license).toContain('Version 2.0, January 2004');
    expect(license).toContain('END OF TERMS AND CONDITIONS');
    expect(license.length).toBeGreaterThan(10_000);
    expect(packed.manifest.repository).toMatchObject({ type: 'git', url: `git+${REPOSITORY}.git` });
    expect(packed.manifest.bugs).toMatchObject({ url: `${REPOSITORY}/issues` });
    expect(packed.manifest.homepage).toMatch(new RegExp(`^${REPOSITORY}`));
    expect(Array.isArray(packed.manifest.keywords) && packed.manifest.keywords.length).toBeGreaterThan(3);
  });

  it('ships source maps whose sources resolve (embedded, or a shipped file)', () => {
    const maps = packed.files.filter((f) => f.endsWith('.map'));
    expect(maps.length).toBeGreaterThan(0);
    for (const map of maps) {
      const parsed = JSON.parse(readFileSync(shippedFile(packed, map), 'utf8')) as { sources: string[]; sourcesContent?: Array<string | null>; sourceRoot?: string };
      parsed.sources.forEach((source, i) => {
        const embedded = typeof parsed.sourcesContent?.[i] === 'string' && (parsed.sourcesContent[i] ?? '').length > 0;
        const shipped = packed.files.includes(posix.normalize(posix.join(posix.dirname(map), parsed.sourceRoot ?? '', source)));
        expect(embedded || shipped, `${map}: ${source}`).toBe(true);
      });
    }
    // And every .js that names a map ships it.
    for (const js of packed.files.filter((f) => f.endsWith('.js'))) {
      const ref = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(shippedFile(packed, js), 'utf8'))?.[1];
      if (ref !== undefined && !ref.startsWith('data:')) expect(packed.files, js).toContain(posix.normalize(posix.join(posix.dirname(js), ref)));
    }
  });

  it('ships markdown whose links reach shipped files (and their headings) or the repository', () => {
    const docs = packed.files.filter((f) => f.endsWith('.md'));
    expect(docs).toContain('README.md');
    const problems: string[] = [];
    for (const doc of docs) {
      const text = readFileSync(shippedFile(packed, doc), 'utf8').replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
      const links = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g), ...text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/gm)].map((m) => m[1] ?? '');
      for (const link of links) {
        if (/^(mailto:|tel:)/.test(link)) continue;
        if (/^[a-z][a-z0-9+.-]*:/i.test(link)) {
          // Absolute: the web is fine, but a link into the repository's tree must be to a public page, not a local path.
          if (!/^https?:\/\//.test(link)) problems.push(`${doc}: ${link} (not a web link)`);
          continue;
        }
        const [path = '', fragment] = link.split('#');
        const target = path === '' ? doc : posix.normalize(posix.join(posix.dirname(doc), decodeURIComponent(path)));
        const isDir = packed.files.some((f) => f.startsWith(`${target.replace(/\/$/, '')}/`));
        if (!packed.files.includes(target) && !isDir) {
          problems.push(`${doc}: ${link} (${target} is not in the package)`);
          continue;
        }
        if (fragment !== undefined && fragment !== '' && target.endsWith('.md') && !headingSlugs(readFileSync(shippedFile(packed, target), 'utf8')).has(fragment)) {
          problems.push(`${doc}: ${link} (no heading #${fragment} in ${target})`);
        }
      }
    }
    expect(problems).toEqual([]);
  });
});

/** GitHub's anchors for the headings of a markdown text (lower case, punctuation dropped, spaces → '-', repeats numbered). */
function headingSlugs(markdown: string): Set<string> {
  const slugs = new Set<string>();
  const counts = new Map<string, number>();
  const text = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const match of text.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (match[1] ?? '')
      .replace(/`([^`]*)`/g, '$1')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = counts.get(base) ?? 0;
    counts.set(base, n + 1);
    slugs.add(n === 0 ? base : `${base}-${n}`);
  }
  return slugs;
}

describe('a project that installs the tarball', () => {
  it('installs no optional driver and none of their types', () => {
    for (const name of [...DRIVERS, ...DRIVER_TYPES]) expect(existsSync(join(scratch.dir, 'node_modules', name)), name).toBe(false);
    expect(existsSync(join(scratch.dir, 'node_modules', 'hotcold', 'dist', 'index.js'))).toBe(true);
  });

  it('imports every entry point from ESM and require()s it from CommonJS: the same module either way', async () => {
    scratch.write(
      'load.mjs',
      `import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const entries = ${JSON.stringify(entries)};
const out = {};
for (const entry of entries) {
  const imported = await import(entry);
  const required = require(entry);
  const names = Object.keys(imported).filter((k) => k !== 'default').sort();
  out[entry] = { names, sameModule: names.every((k) => imported[k] === required[k]) };
}
console.log(JSON.stringify(out));
`,
    );
    scratch.write(
      'load.cjs',
      `const entries = ${JSON.stringify(entries)};
const out = {};
for (const entry of entries) out[entry] = Object.keys(require(entry)).filter((k) => k !== 'default' && k !== '__esModule').sort();
console.log(JSON.stringify(out));
`,
    );
    const esm = await node(['load.mjs']);
    expect(esm.code, esm.stderr).toBe(0);
    const cjs = await node(['load.cjs']);
    expect(cjs.code, cjs.stderr).toBe(0);
    // require(esm) is not experimental-warned on Node >= 20.19.
    expect(cjs.stderr).not.toMatch(/ExperimentalWarning|ERR_REQUIRE/);
    const fromEsm = JSON.parse(esm.stdout) as Record<string, { names: string[]; sameModule: boolean }>;
    const fromCjs = JSON.parse(cjs.stdout) as Record<string, string[]>;
    for (const entry of entries) {
      expect(fromEsm[entry]?.names.length, entry).toBeGreaterThan(0);
      expect(fromEsm[entry]?.sameModule, entry).toBe(true);
      expect(fromCjs[entry], entry).toEqual(fromEsm[entry]?.names);
    }
    expect(fromCjs.hotcold).toContain('createClient');
  }, 120_000);

  it('without @grpc/grpc-js, hotcold/grpc imports and grpcInterceptor() fails at once with a ConfigurationError naming it', async () => {
    scratch.write(
      'grpc-missing.mjs',
      `import { grpcInterceptor } from 'hotcold/grpc';
import { ConfigurationError } from 'hotcold';
try {
  grpcInterceptor({});
  console.log(JSON.stringify({ threw: false }));
} catch (error) {
  console.log(JSON.stringify({ threw: true, configuration: error instanceof ConfigurationError, field: error.field }));
}
`,
    );
    const out = await node(['grpc-missing.mjs']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ threw: true, configuration: true, field: '@grpc/grpc-js' });
  }, 60_000);

  it('without the drivers, each feature that needs one fails with a typed error naming the package to install', async () => {
    scratch.write(
      'drivers-missing.mjs',
      `import { storeFromUrl, DriverMissingError, createLease, sqliteStore } from 'hotcold/lease';
import { startGrpcLedgerNode } from 'hotcold/testing';
import { ConfigurationError } from 'hotcold';
const out = {};
for (const url of ['sqlite:' + process.cwd() + '/missing-driver.db', 'postgres://app:pw@127.0.0.1:1/app', 'mysql://app:pw@127.0.0.1:1/app']) {
  const store = storeFromUrl(url);
  try {
    await store.init();
    out[url.split(':')[0]] = 'no error';
  } catch (error) {
    out[url.split(':')[0]] = error instanceof DriverMissingError ? error.packageName : String(error);
  } finally {
    await store.close();
  }
}
const lease = createLease({ store: sqliteStore(process.cwd() + '/grpc-ledger.db'), machineName: 'a' });
try {
  await startGrpcLedgerNode({ lease });
  out.grpcLedger = 'no error';
} catch (error) {
  out.grpcLedger = error instanceof ConfigurationError ? error.field : String(error);
} finally {
  await lease.close();
}
console.log(JSON.stringify(out));
`,
    );
    const out = await node(['drivers-missing.mjs']);
    expect(out.code, out.stderr).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ sqlite: 'better-sqlite3', postgres: 'pg', mysql: 'mysql2', grpcLedger: '@grpc/grpc-js' });

    // The bin: the demo's own database (SQLite by default, or PostgreSQL) needs its driver too. It
    // says which, before it starts a node; the password of --db is not printed.
    const bin = join(scratch.dir, 'node_modules', '.bin', 'hotcold');
    for (const [args, pkg] of [
      [['demo', '--seconds', '2'], 'better-sqlite3'],
      [['demo', '--db', 'postgres://app:hunter2-sekrit@127.0.0.1:1/app', '--seconds', '2'], 'pg'],
      [['lease', 'status', '--db', 'postgres://app:hunter2-sekrit@127.0.0.1:1/app'], 'pg'],
      [['lease', 'init', '--db', 'mysql://app:hunter2-sekrit@127.0.0.1:1/app'], 'mysql2'],
    ] as const) {
      const ran = await run(bin, args, { cwd: scratch.dir, env: cleanEnv(), timeoutMs: 120_000 });
      expect(ran.code, `${args.join(' ')}: ${ran.stderr}`).toBe(1);
      expect(ran.stderr, args.join(' ')).toContain(`npm install ${pkg}`);
      expect(ran.stderr, args.join(' ')).not.toMatch(/Cannot find (package|module)|\n\s+at /);
      expect(`${ran.stdout}${ran.stderr}`, args.join(' ')).not.toContain('hunter2-sekrit');
      expect(ran.stdout, `${args.join(' ')}: no node was started`).not.toContain('listening');
      expect(ran.stderr, `${args.join(' ')}: no node was started`).not.toContain('before it was ready');
    }
  }, 300_000);

  it('a driver that is installed but broken (a module it needs is missing) is not reported as "not installed"', async () => {
    // Packages of the drivers' names whose own dependency is absent, as a partial install leaves them.
    const fakes = { pg: 'pg-pool-gone', '@grpc/grpc-js': '@grpc/proto-loader-gone' };
    for (const [name, missing] of Object.entries(fakes)) {
      scratch.write(`node_modules/${name}/package.json`, `${JSON.stringify({ name, version: '0.0.0-broken', main: 'index.js' })}\n`);
      scratch.write(`node_modules/${name}/index.js`, `module.exports = require('${missing}');\n`);
    }
    try {
      scratch.write(
        'drivers-broken.mjs',
        `import { postgresStore, DriverMissingError, StoreConfigurationError } from 'hotcold/lease';
import { grpcInterceptor } from 'hotcold/grpc';
import { ConfigurationError } from 'hotcold';
const out = {};
const store = postgresStore('postgres://app:pw@127.0.0.1:1/app');
try {
  await store.init();
} catch (error) {
  out.pg = { typed: error instanceof StoreConfigurationError, notInstalled: error instanceof DriverMissingError, fault: error.fault, message: error.message };
} finally {
  await store.close();
}
try {
  grpcInterceptor({});
} catch (error) {
  out.grpc = { typed: error instanceof ConfigurationError, field: error.field, message: error.message };
}
console.log(JSON.stringify(out));
`,
      );
      const ran = await node(['drivers-broken.mjs']);
      expect(ran.code, ran.stderr).toBe(0);
      const out = JSON.parse(ran.stdout) as { pg: { typed: boolean; notInstalled: boolean; fault: string; message: string }; grpc: { typed: boolean; field: string; message: string } };
      expect(out.pg).toMatchObject({ typed: true, notInstalled: false, fault: 'driver-missing' });
      expect(out.pg.message).toContain('pg-pool-gone');
      expect(out.pg.message).toContain('npm install pg');
      expect(out.pg.message).not.toContain('not installed');
      expect(out.grpc).toMatchObject({ typed: true, field: '@grpc/grpc-js' });
      expect(out.grpc.message).toContain('@grpc/proto-loader-gone');
      expect(out.grpc.message).not.toContain('not installed');
    } finally {
      for (const name of Object.keys(fakes)) rmSync(join(scratch.dir, 'node_modules', name), { recursive: true, force: true });
    }
  }, 120_000);

  it('compiles strict CommonJS and ESM TypeScript consumers (skipLibCheck false, no driver types) that run', async () => {
    const imports = entries.map((entry, i) => `import * as entry${i} from '${entry}';`).join('\n');
    const touch = `export const entryPointSizes = [${entries.map((_, i) => `Object.keys(entry${i}).length`).join(', ')}];`;
    const body = (kind: string) => `${imports}
import { createClient, createMemoryTransport, ConfigurationError, isRPCException } from 'hotcold';
import { sqliteStore, storeFromUrl, type LeaseStore } from 'hotcold/lease';
${touch}

// Types only: a lease store's signature, without better-sqlite3 installed.
export const makeStore: (path: string) => LeaseStore = (path) => sqliteStore(path, { table: 'app_lease' });
export const fromUrl = storeFromUrl;

export async function main(): Promise<void> {
  const client = createClient({ url: 'http://127.0.0.1:1', transport: createMemoryTransport({ node: 'n1' }) });
  try {
    const answer = await client.call<{ method: string }>('ping', { n: 1 });
    let refused = '';
    try {
      createClient({ url: 'not a url' });
    } catch (error) {
      if (error instanceof ConfigurationError) refused = error.field;
    }
    console.log(JSON.stringify({ kind: '${kind}', method: answer.method, refused, isRpc: isRPCException(new Error('x')), sizes: entryPointSizes }));
  } finally {
    await client.close();
  }
}
`;
    scratch.write('consumer.cts', `${body('cjs')}\nvoid main();\n`);
    scratch.write('consumer.mts', `${body('esm')}\nawait main();\n`);
    scratch.write(
      'reject.mts',
      `import { sqliteStore, postgresStore, mysqlStore } from 'hotcold/lease';
// @ts-expect-error a number is not a SQLite file path or database
sqliteStore(123);
// @ts-expect-error a plain object is not a better-sqlite3 Database
sqliteStore({});
// @ts-expect-error a number is not a connection string or pg.Pool
postgresStore(5432);
// @ts-expect-error a number is not a URI or mysql2 Pool
mysqlStore(3306);
export {};
`,
    );
    scratch.write('tsconfig.json', tsconfig(['consumer.cts', 'consumer.mts', 'reject.mts']));
    const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: scratch.dir, timeoutMs: 300_000 });
    expect(compiled.code, `${compiled.stdout}${compiled.stderr}`).toBe(0);

    for (const [file, kind] of [['out/consumer.cjs', 'cjs'], ['out/consumer.mjs', 'esm']] as const) {
      const ran = await node([file]);
      expect(ran.code, `${file}: ${ran.stderr}`).toBe(0);
      const printed = JSON.parse(ran.stdout) as { kind: string; method: string; refused: string; sizes: number[] };
      expect(printed).toMatchObject({ kind, method: 'ping', refused: 'url' });
      expect(printed.sizes.every((n) => n > 0)).toBe(true);
    }
    // The CommonJS output really is CommonJS: it require()s the package.
    expect(readFileSync(join(scratch.dir, 'out', 'consumer.cjs'), 'utf8')).toMatch(/require\("hotcold"\)/);
  }, 300_000);

  it('with the drivers and their types installed: real driver objects are accepted, sqliteStore(123) still is not', async () => {
    for (const name of [...DRIVERS, ...DRIVER_TYPES]) scratch.link(name);
    scratch.write(
      'drivers.mts',
      `import Database from 'better-sqlite3';
import pg from 'pg';
import * as mysql from 'mysql2/promise';
import { sqliteStore, postgresStore, mysqlStore, type SqlLeaseStore } from 'hotcold/lease';

export function stores(): SqlLeaseStore[] {
  return [
    sqliteStore(new Database(':memory:')),
    postgresStore(new pg.Pool({ connectionString: 'postgres://127.0.0.1:1/none' })),
    mysqlStore(mysql.createPool('mysql://127.0.0.1:1/none')),
  ];
}
`,
    );
    scratch.write('tsconfig.drivers.json', tsconfig(['drivers.mts', 'reject.mts'], ['node', 'better-sqlite3', 'pg']));
    const compiled = await run(process.execPath, [tsc, '-p', 'tsconfig.drivers.json'], { cwd: scratch.dir, timeoutMs: 300_000 });
    expect(compiled.code, `${compiled.stdout}${compiled.stderr}`).toBe(0);
  }, 300_000);

  it('importing an entry point loads no CLI module, no driver, no OpenTelemetry SDK, and (from the client entry) no lease, node or testing module', async () => {
    // Drivers are linked by the previous test, so a static import of one would show in the trace.
    for (const name of DRIVERS) if (!existsSync(join(scratch.dir, 'node_modules', name))) scratch.link(name);
    scratch.write(
      'trace-hooks.mjs',
      `import { appendFileSync } from 'node:fs';
export async function initialize(data) { globalThis.traceFile = data.file; }
export async function resolve(specifier, context, next) {
  const result = await next(specifier, context);
  appendFileSync(globalThis.traceFile, result.url + '\\n');
  return result;
}
`,
    );
    const problems: string[] = [];
    for (const entry of entries) {
      const file = join(scratch.dir, `trace-${entry.replace(/\W/g, '_')}.txt`);
      scratch.write(
        'trace.mjs',
        `import { register, createRequire } from 'node:module';
import { appendFileSync } from 'node:fs';
const file = process.argv[2];
register('./trace-hooks.mjs', import.meta.url, { data: { file } });
await import(process.argv[3]);
// CommonJS modules required from CommonJS dependencies do not pass the ESM hooks.
for (const key of Object.keys(createRequire(import.meta.url).cache)) appendFileSync(file, key + '\\n');
`,
      );
      const ran = await node(['trace.mjs', file, entry]);
      expect(ran.code, `${entry}: ${ran.stderr}`).toBe(0);
      const loaded = readFileSync(file, 'utf8').split('\n').filter(Boolean);
      const own = loaded.filter((m) => m.includes('/node_modules/hotcold/dist/'));
      expect(own.length, entry).toBeGreaterThan(0);
      const forbidden: RegExp[] = [
        /\/node_modules\/hotcold\/dist\/cli\//,
        ...DRIVERS.map((d) => new RegExp(`/node_modules/${d}/`)),
        // The OpenTelemetry SDK and Prometheus exporter are loaded by a node's metrics endpoint, on start().
        /\/node_modules\/@opentelemetry\/(sdk-metrics|exporter-prometheus|resources)\//,
      ];
      if (entry !== 'hotcold/testing') forbidden.push(/\/node_modules\/hotcold\/dist\/testing\//);
      if (entry === 'hotcold') forbidden.push(/\/node_modules\/hotcold\/dist\/(lease|node)\//);
      for (const module of loaded) if (forbidden.some((re) => re.test(module))) problems.push(`${entry} loads ${module}`);
    }
    expect(problems).toEqual([]);
  }, 300_000);

  it('runs the hotcold bin: --version, and demo --json prints only the JSON, numbers rounded', async () => {
    const bin = join(scratch.dir, 'node_modules', '.bin', 'hotcold');
    const version = await run(bin, ['--version'], { cwd: scratch.dir });
    expect(version.code, version.stderr).toBe(0);
    expect(version.stdout).toBe(`${packed.manifest.version}\n`);
    // npx as a user types it (better-sqlite3 is linked in: the demo's default database is SQLite).
    const demo = await run('npx', ['--no-install', 'hotcold', 'demo', '--json', '--seconds', '2', '--callers', '4'], { cwd: scratch.dir, timeoutMs: 120_000 });
    expect(demo.code, demo.stderr).toBe(0);
    const lines = demo.stdout.split('\n').filter((l) => l !== '');
    expect(lines).toHaveLength(1);
    const summary = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(summary).toMatchObject({ ok: true, lost: 0, duplicates: 0 });
    expect(nonIntegers(summary)).toEqual([]);
  }, 180_000);
});
