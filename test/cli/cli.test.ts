/**
 * The `hotcold` command as a user runs it, in a child process (tsx over the sources): every
 * command of the registry (iterated, so a new one is covered at once) has a --help that lists each
 * flag it parses with its meaning and default, and refuses an unknown flag with exit code 2;
 * `hotcold --version`; `hotcold lease status|promote|release` never create a file for a --db that
 * is not a URL; `npm run demo -- --json` prints only JSON, with whole numbers.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { COMMANDS } from '../../src/cli/commands.js';
import { formatHelp, parseFlags } from '../../src/cli/flags.js';
import { parseDemoArgs } from '../../src/cli/demo/demo-args.js';
import { ConfigurationError } from '../../src/errors.js';
import { cleanEnv, nonIntegers, repoRoot, run } from '../package/scratch.js';

const main = join(repoRoot, 'src', 'cli', 'main.ts');
const tsx = pathToFileURL(join(repoRoot, 'node_modules', 'tsx', 'dist', 'loader.mjs')).href;
const work = mkdtempSync(join(tmpdir(), 'hotcold-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** `hotcold …` in `cwd` (default: an empty temp folder, so a stray file would show). */
const hotcold = (args: string[], cwd = work) => run(process.execPath, ['--import', tsx, main, ...args], { cwd, env: cleanEnv({ HOTCOLD_DB: '' }), timeoutMs: 60_000 });

function errorOfDemo(argv: string[]): unknown {
  try {
    parseDemoArgs(argv);
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('hotcold (CLI)', () => {
  it('--version prints the package version; --help lists every command', async () => {
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { version: string };
    for (const flag of ['--version', '-v']) {
      const version = await hotcold([flag]);
      expect(version.code, version.stderr).toBe(0);
      expect(version.stdout).toBe(`${pkg.version}\n`);
    }
    const help = await hotcold(['--help']);
    expect(help.code).toBe(0);
    for (const name of Object.keys(COMMANDS)) expect(help.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
    expect(help.stdout).toContain('--version');
    const unknown = await hotcold(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
    // `help` with a topic that is no command is the same mistake, not a help that succeeded.
    for (const argv of [['help', 'frobnicate'], ['help', 'lease', 'status']]) {
      const help = await hotcold(argv);
      expect(help.code, argv.join(' ')).toBe(2);
      expect(help.stdout, argv.join(' ')).toBe('');
      expect(help.stderr, argv.join(' ')).toMatch(/unknown command 'frobnicate'|help takes one command/);
    }
  }, 60_000);

  for (const [name, entry] of Object.entries(COMMANDS)) {
    it(`${name} --help lists every flag the command parses, with its meaning and default; an unknown flag exits 2`, async () => {
      const { flags } = await entry.load();
      const help = await hotcold([name, '--help']);
      expect(help.code, help.stderr).toBe(0);
      const text = help.stdout.replace(/\s+/g, ' ');
      for (const [flag, spec] of Object.entries(flags)) {
        expect(help.stdout, `--${flag}`).toMatch(new RegExp(`^ {2}(-\\w, | {4})--${flag}\\b`, 'm'));
        expect(spec.description.length, `--${flag} has a meaning`).toBeGreaterThan(5);
        expect(text, `--${flag}`).toContain(spec.description.replace(/\s+/g, ' '));
        if (spec.type === 'string') expect(spec.default, `--${flag} says its default`).toBeDefined();
        if (spec.default !== undefined) expect(help.stdout, `--${flag}`).toContain(`(default: ${spec.default})`);
      }
      const same = await hotcold(['help', name]);
      expect(same.stdout).toBe(help.stdout);
      const global = await hotcold(['--help', name]);
      expect(global.code, global.stderr).toBe(0);
      expect(global.stdout).toBe(help.stdout);

      const bad = await hotcold([name, '--no-such-flag']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('--no-such-flag');
      expect(bad.stderr).not.toMatch(/\n\s+at /); // a message, not a stack trace
    }, 60_000);
  }

  it('parses with node:util parseArgs: --flag=value, -h, and a typed error naming the flag', () => {
    const specs = { db: { type: 'string', value: 'URL', description: 'the database', default: 'none' }, json: { type: 'boolean', description: 'JSON out' }, help: { type: 'boolean', short: 'h', description: 'help' } } as const;
    expect(parseFlags(specs, ['--db=x', '--json', '-h']).values).toEqual({ db: 'x', json: true, help: true });
    const errorOf = (argv: string[]): unknown => {
      try {
        parseFlags(specs, argv);
      } catch (error) {
        return error;
      }
      return undefined;
    };
    expect(errorOf(['--db'])).toMatchObject({ field: '--db', reason: 'needs a value' });
    expect(errorOf(['--nope'])).toMatchObject({ field: '--nope' });
    expect(errorOf(['stray'])).toMatchObject({ field: 'stray' });
    // A database URL given where no argument belongs: named, without its password.
    const stray = errorOf(['postgres://admin:hunter2-sekrit@db.invalid/app']) as ConfigurationError;
    expect(stray.message).toContain('db.invalid');
    expect(stray.message).not.toContain('hunter2-sekrit');
    for (const argv of [['--db'], ['--nope'], ['stray']]) expect(errorOf(argv)).toBeInstanceOf(ConfigurationError);
    expect(formatHelp('usage: x', specs)).toContain('--db URL');
  });

  it('a value flag given twice is refused, naming it (parseArgs would keep the last without a word); a repeatable one and a switch are not', async () => {
    for (const [name, entry] of Object.entries(COMMANDS)) {
      const { flags } = await entry.load();
      for (const [flag, spec] of Object.entries(flags)) {
        const error = (() => {
          try {
            parseFlags(flags, spec.type === 'boolean' ? [`--${flag}`, `--${flag}`] : [`--${flag}`, 'a', `--${flag}=b`]);
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        if (spec.type === 'string' && spec.multiple !== true) expect(error, `${name} --${flag} twice`).toMatchObject({ field: `--${flag}`, reason: expect.stringContaining('more than once') as unknown });
        else expect(error, `${name} --${flag} twice`).toBeUndefined();
      }
    }
    expect(errorOfDemo(['--report', 'a.html', '--report=b.html'])).toMatchObject({ field: '--report', reason: expect.stringContaining('more than once') as unknown });
    // As an operator meets it: two databases, neither acted on.
    const dir = mkdtempSync(join(work, 'twice-'));
    const ran = await hotcold(['lease', 'init', '--db', 'a.db', '--db', 'b.db'], dir);
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.stderr).toContain('--db: is given more than once');
    expect(readdirSync(dir)).toEqual([]);
  }, 60_000);

  it('never prints back a password typed anywhere on the command line, also in a mistyped URL', async () => {
    const dir = mkdtempSync(join(work, 'typed-secret-'));
    const secret = 'hunter2-sekrit';
    const cases: string[][] = [
      // A URL where the command or the action belongs.
      [`postgres://admin:${secret}@db.invalid/app`],
      ['lease', `postgres://admin:${secret}@db.invalid/app`],
      // A stray argument that is a URL without its scheme's slashes, or without a scheme.
      ['lease', 'status', `admin:${secret}@db.invalid:5432/app`],
      ['node', `admin:${secret}@db.invalid:5432/app`],
      // A mistyped --db: read as a SQLite path, or as a URL without a host.
      ['lease', 'status', '--db', `postgres//admin:${secret}@db.invalid/app`],
      ['lease', 'status', '--db', `admin:${secret}@db.invalid:5432/app`],
      ['lease', 'status', '--db', `postgres:/admin:${secret}@db.invalid/app`],
      ['lease', 'status', '--db', `mysql:admin:${secret}@db.invalid/app`],
      ['node', '--db', `postgres:/admin:${secret}@db.invalid/app`],
    ];
    const problems: string[] = [];
    for (const argv of cases) {
      const ran = await hotcold(argv, dir);
      const said = `${ran.stdout}${ran.stderr}`;
      if (said.includes(secret)) problems.push(`${argv.join(' ')} printed it: ${said.split('\n')[0] ?? ''}`);
      // Refused as bad usage (a mistyped URL included), with a message.
      if (ran.code !== 2 || !ran.stderr.startsWith('hotcold')) problems.push(`${argv.join(' ')}: exit ${String(ran.code)}: ${ran.stderr}`);
    }
    expect(problems).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  }, 120_000);

  it('a bad value that the library refuses is reported as the flag the operator typed, not the option it sets', async () => {
    const dir = mkdtempSync(join(work, 'flag-names-'));
    const db = ['--db', join(dir, 'never-created.db')];
    const cases: Array<[string[], string, RegExp?]> = [
      [['node', ...db, '--wait-interval', '1000', '--update-interval', '2000'], '--wait-interval', /greater than --update-interval/],
      [['node', ...db, '--update-interval', '1'], '--update-interval'],
      [['node', ...db, '--host', ''], '--host'],
      [['node', ...db, '--machine', ''], '--machine'],
      [['node', ...db, '--table', 'no such;table'], '--table'],
      [['node', ...db, '--lease-name', 'with space'], '--lease-name'],
      [['node', ...db, '--dedup-table', 'no such;table'], '--dedup-table'],
      [['node', ...db, '--feed-table', 'no such;table'], '--feed-table'],
      [['node', '--db', 'pg://127.0.0.1/app'], '--db'],
      [['node', '--db', 'postgres://127.0.0.1:99999/app'], '--db'],
      [['lease', 'status', '--db', 'pg://127.0.0.1/app'], '--db'],
      [['lease', 'status', '--db', 'mysql://127.0.0.1:99999/app'], '--db'],
      [['lease', 'status', '--db', 'postgres://127.0.0.1:1/app', '--table', 'no such;table'], '--table'],
      [['lease', 'status', '--db', 'postgres://127.0.0.1:1/app', '--name', ''], '--name'],
      [['conformance', 'http://127.0.0.1:1', '--rpc-path', 'rpc'], '--rpc-path'],
      [['conformance', 'http://127.0.0.1:1', '--health-path', 'health'], '--health-path'],
      [['conformance', 'http://127.0.0.1:1', '--standby', 'not a url'], '--standby'],
      [['conformance', 'http://127.0.0.1:1', '--header', 'Bad Name: v'], '--header'],
    ];
    const problems: string[] = [];
    for (const [argv, flag, reason] of cases) {
      const ran = await hotcold(argv, dir);
      const line = ran.stderr.split('\n').find((l) => l.includes('invalid option')) ?? ran.stderr;
      if (ran.code !== 2 || !line.includes(`invalid option ${flag}`) || (reason !== undefined && !reason.test(line))) problems.push(`${argv.join(' ')}: exit ${String(ran.code)}: ${line}`);
    }
    expect(problems).toEqual([]);
    expect(readdirSync(dir)).toEqual([]);
  }, 180_000);

  it('conformance interrupted by SIGINT or SIGTERM exits 130 with no verdict: the checks cut short are not failures of the server', async () => {
    // A server that accepts connections and never answers: the first check waits on it.
    const sockets = new Set<Socket>();
    let connected: () => void = () => undefined;
    const server = createServer((socket) => {
      sockets.add(socket);
      connected();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      for (const signal of ['SIGINT', 'SIGTERM'] as const) {
        for (const json of [false, true]) {
          const reached = new Promise<void>((resolve) => (connected = resolve));
          const child = spawn(process.execPath, ['--import', tsx, main, 'conformance', `http://127.0.0.1:${port}`, ...(json ? ['--json'] : [])], { cwd: work, env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
          let stdout = '';
          let stderr = '';
          child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
          child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
          const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
          await reached; // the run is under way, its handlers installed
          child.kill(signal);
          const code = await exited;
          expect(code, `${signal} ${String(json)}: ${stderr}`).toBe(130);
          expect(stderr).toContain(`interrupted (${signal})`);
          expect(stdout).not.toMatch(/DOES NOT CONFORM|FAIL/);
          if (json) expect(JSON.parse(stdout)).toMatchObject({ ok: false, interrupted: signal });
          else expect(stdout).toBe('');
        }
      }
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 180_000);

  it('node and demo outlive a reader of their stdout that went away: the node goes on serving, the demo cleans up (no EPIPE crash)', async () => {
    const dir = mkdtempSync(join(work, 'stdout-closed-'));
    const db = join(dir, 'lease.db');
    const child = spawn(process.execPath, ['--import', tsx, main, 'node', '--db', db, '--machine', 'A', '--update-interval', '200', '--wait-interval', '1000', '--log-level', 'warn'], {
      cwd: dir,
      env: cleanEnv(),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      // A supervisor that reads the `listening` line and closes the pipe.
      const url = await new Promise<string>((resolve, reject) => {
        let out = '';
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const listening = out.split('\n').find((l) => l.includes('"listening"'));
          if (listening !== undefined) resolve((JSON.parse(listening) as { url: string }).url);
        });
        void exited.then((code) => reject(new Error(`exited ${String(code)} before listening: ${stderr}`)));
      });
      child.stdout.destroy();
      // Something the node reports on stdout: its lease taken away by an operator.
      const released = await hotcold(['lease', 'release', '--db', db], dir);
      expect(released.code, released.stderr).toBe(0);
      // The node's warning (it may have come already, while the release ran), or its end.
      let ended = false;
      void exited.then(() => (ended = true));
      while (!ended && !stderr.includes('stdout was closed')) await new Promise((resolve) => setTimeout(resolve, 50));
      expect(child.exitCode, stderr).toBeNull();
      expect(stderr).not.toContain('EPIPE');
      // Still serving (warm: it takes the lease again).
      const health = await new Promise<number>((resolve, reject) => {
        const poll = (): void => {
          void fetch(`${url}/health`).then(
            (r) => (r.status === 200 ? resolve(r.status) : setTimeout(poll, 100)),
            reject,
          );
        };
        poll();
      });
      expect(health).toBe(200);
      child.kill('SIGTERM');
      expect(await exited, stderr).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }

    // The demo: `| head -1`. It stops as on Ctrl-C, leaving nothing in its temp folder.
    const tmp = mkdtempSync(join(work, 'demo-tmp-'));
    const demo = spawn(process.execPath, ['--import', tsx, main, 'demo', '--seconds', '30', '--callers', '2'], { cwd: dir, env: cleanEnv({ TMPDIR: tmp }), stdio: ['ignore', 'pipe', 'pipe'] });
    let demoErr = '';
    demo.stderr.on('data', (chunk: Buffer) => (demoErr += chunk.toString()));
    const demoExit = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
    demo.stdout.once('data', () => demo.stdout.destroy());
    expect(await demoExit, demoErr).toBe(130);
    expect(demoErr).not.toContain('EPIPE');
    expect(readdirSync(tmp).filter((f) => f.startsWith('hotcold-'))).toEqual([]); // tsx keeps its cache there too
  }, 180_000);

  it("lease: a flag of another action is refused, not ignored (promote --holder A --force would clear any holder)", async () => {
    const dir = mkdtempSync(join(work, 'other-action-'));
    const init = await hotcold(['lease', 'init', '--db', 'app.db'], dir);
    expect(init.code, init.stderr).toBe(0);
    const cases: Array<[string[], string]> = [
      [['promote', '--holder', 'node-a', '--force'], '--holder'],
      [['release', '--force'], '--force'],
      [['status', '--force'], '--force'],
      [['status', '--bump', '2'], '--bump'],
      [['status', '--print'], '--print'],
      [['init', '--holder', 'node-a'], '--holder'],
    ];
    const problems: string[] = [];
    for (const [argv, flag] of cases) {
      const ran = await hotcold(['lease', ...argv, '--db', 'app.db'], dir);
      if (ran.code !== 2 || !ran.stderr.includes(`${flag} is for`)) problems.push(`lease ${argv.join(' ')}: exit ${String(ran.code)}: ${ran.stderr}${ran.stdout}`);
    }
    // The same for the node: the ledger's --prefix with the conformance app.
    const node = await hotcold(['node', '--db', 'app.db', '--app', 'conformance', '--prefix', 'mine'], dir);
    if (node.code !== 2 || !node.stderr.includes('--prefix: is for --app ledger only')) problems.push(`node --app conformance --prefix: exit ${String(node.code)}: ${node.stderr}`);
    expect(problems).toEqual([]);
    const status = await hotcold(['lease', 'status', '--db', 'app.db', '--json'], dir);
    expect(JSON.parse(status.stdout)).toMatchObject({ token: 0 }); // nothing was promoted or released
  }, 120_000);

  it('lease status|promote|release --db <not a URL> exit 2 naming --db and create no file', async () => {
    const dir = mkdtempSync(join(work, 'not-a-url-'));
    const cases = [
      ...['not-a-url', 'db.example.com/app', 'sqlite:missing.db', 'localhost'].map((db) => ['status', db] as const),
      ['promote', 'not-a-url'] as const,
      ['release', 'not-a-url'] as const,
    ];
    for (const [action, db] of cases) {
      const ran = await hotcold(['lease', action, '--db', db], dir);
      expect(ran.code, `${action} ${db}: ${ran.stderr}`).toBe(2);
      expect(ran.stderr).toContain('--db');
      expect(readdirSync(dir), `${action} --db ${db}`).toEqual([]);
    }
    // An existing file that no node ever used (no lease file beside it) is not given one either.
    writeFileSync(join(dir, 'app.db'), '');
    const ran = await hotcold(['lease', 'status', '--db', 'app.db'], dir);
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.stderr).toContain('no lease file');
    expect(readdirSync(dir)).toEqual(['app.db']);
    // init is the one action that creates the database.
    const init = await hotcold(['lease', 'init', '--db', 'fresh.db'], dir);
    expect(init.code, init.stderr).toBe(0);
    expect(existsSync(join(dir, 'fresh.db'))).toBe(true);
    const status = await hotcold(['lease', 'status', '--db', 'fresh.db', '--json'], dir);
    expect(status.code, status.stderr).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ exists: false, holder: null });
  }, 120_000);

  it('npm run demo -- --json prints only the JSON summary on stdout, every number whole', async () => {
    const ran = await run('npm', ['run', 'demo', '--', '--json', '--seconds', '2', '--callers', '4'], { cwd: repoRoot, env: cleanEnv(), timeoutMs: 120_000 });
    expect(ran.code, ran.stderr).toBe(0);
    const lines = ran.stdout.split('\n').filter((l) => l.trim() !== '');
    expect(lines, ran.stdout).toHaveLength(1);
    const summary = JSON.parse(lines[0] ?? '') as Record<string, unknown>;
    expect(summary).toMatchObject({ ok: true, lost: 0, duplicates: 0 });
    expect(nonIntegers(summary)).toEqual([]);
  }, 120_000);
});
