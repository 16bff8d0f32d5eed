import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sqliteStore } from 'hotcold/lease';
import { ConfigurationError } from 'hotcold';
import { conformanceApp, formatConformanceReport, runConformance, startDevBalancer, type ConformanceReport } from 'hotcold/testing';
import { startHaproxy } from '../../src/cli/demo/haproxy.js';
import { fixture, startNode, until, type Fixture, type NodeSetup } from '../node/support.js';
import { startMutatingProxy, type MutatingProxy } from './mutating-proxy.js';
import { spawnNode, type NodeProcess } from '../node/child.js';
import { CONFORMANCE_CHECKS } from '../../src/testing/conformance/index.js';
import { CONFORMANCE_METHODS } from 'hotcold/testing';

/**
 * The conformance kit against real servers: the reference node (two of them on one SQLite file,
 * one active, one standby) must pass every check; the same node behind a proxy that breaks one
 * rule of docs/wire.md must fail exactly the checks of that rule.
 */

const root = fileURLToPath(new URL('../../', import.meta.url));
let f: Fixture;
let active: NodeSetup;
let standby: NodeSetup;
const proxies: MutatingProxy[] = [];

/** Short enough to keep the suite quick, long enough that EXPIRED (300 ms) comes first anyway. */
const fast = { midCallSleepMs: 1500, requestTimeoutMs: 15_000 };

beforeAll(async () => {
  f = fixture();
  const app = conformanceApp();
  const setupStore = sqliteStore(f.dbPath);
  f.stores.push(setupStore);
  await app.setup(setupStore);
  // Long intervals: on a loaded machine the active node must keep its lease for the whole suite.
  const timing = { updateInterval: 500, waitInterval: 5000 };
  active = await startNode(f, 'conf-a', { handlers: app.handlers, ...timing });
  await until(() => active.node.status === 'active', 20_000, 'node a active');
  standby = await startNode(f, 'conf-b', { handlers: app.handlers, ...timing });
  await until(() => standby.node.status === 'standby', 20_000, 'node b standby');
});

afterAll(async () => {
  for (const p of proxies.splice(0)) await p.close();
  await f?.cleanup();
});

const failing = (report: ConformanceReport): string[] => report.results.filter((r) => r.outcome === 'fail').map((r) => r.id).sort();

async function proxy(target: string, mutation: Parameters<typeof startMutatingProxy>[1]): Promise<string> {
  const p = await startMutatingProxy(target, mutation);
  proxies.push(p);
  return p.url;
}

describe('runConformance against the reference node', () => {
  it('passes every check, standby checks included', async () => {
    const report = await runConformance(active.url, { standbyUrl: standby.url, ...fast });
    expect(failing(report), formatConformanceReport(report)).toEqual([]);
    expect(report.skipped).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.results.length).toBeGreaterThanOrEqual(25);
    for (const r of report.results) expect(r.requirement).toMatch(/^§\d+/);
  });

  it('without a standby URL the standby checks are skipped, not failed', async () => {
    const report = await runConformance(active.url, fast);
    expect(failing(report), formatConformanceReport(report)).toEqual([]);
    expect(report.results.filter((r) => r.outcome === 'skip').map((r) => r.id).sort()).toEqual(['standby.feed', 'standby.health', 'standby.not-active']);
  });

  it('a standby given as the node under test fails health.active and every call check, and does not throw', async () => {
    const report = await runConformance(standby.url, { ...fast, feeds: false });
    expect(report.ok).toBe(false);
    const failed = failing(report);
    expect(failed).toContain('health.active');
    expect(failed).toContain('dedup.repeat');
    expect(report.results.find((r) => r.id === 'health.active')?.detail).toMatch(/503/);
  });
});

describe('runConformance through a balancer in front of the pair', () => {
  const portOf = (url: string): number => Number(new URL(url).port);

  it('the reference pair behind real HAProxy (examples/haproxy/haproxy.cfg) passes every check', async () => {
    const lb = await startHaproxy({ backends: [{ name: 'node-a', port: portOf(active.url) }, { name: 'node-b', port: portOf(standby.url) }] });
    try {
      // HAProxy starts with both servers unchecked: wait until it routes to the active node.
      await until(async () => (await fetch(`${lb.url}/health`)).status === 200, 20_000, 'HAProxy routing to the active node');
      const report = await runConformance(lb.url, { standbyUrl: standby.url, ...fast });
      expect(failing(report), formatConformanceReport(report) + lb.log()).toEqual([]);
    } finally {
      await lb.stop();
    }
  });

  it('the reference pair behind the dev balancer passes every check', async () => {
    const lb = await startDevBalancer({ backends: [active.url, standby.url] });
    try {
      await until(() => lb.current === active.url, 20_000, 'dev balancer routing to the active node');
      const report = await runConformance(lb.url, { standbyUrl: standby.url, ...fast });
      expect(failing(report), formatConformanceReport(report)).toEqual([]);
    } finally {
      await lb.close();
    }
  });
});

describe('runConformance against deliberately broken servers', () => {
  it('a node that does not deduplicate (the key never reaches it) but advertises it fails the dedup checks', async () => {
    const url = await proxy(active.url, { request: (h) => void delete h['idempotency-key'] });
    const report = await runConformance(url, fast);
    expect(failing(report), formatConformanceReport(report)).toEqual(['dedup.caller-bound', 'dedup.concurrent', 'dedup.params-conflict', 'dedup.repeat', 'key.invalid']);
    expect(report.results.find((r) => r.id === 'dedup.repeat')?.detail).toMatch(/the call executed/);
  });

  it('a standby that answers calls with 500 instead of 503 NOT_ACTIVE fails the standby call checks', async () => {
    const broken = await proxy(standby.url, { status: (s, method) => (method === 'POST' && s === 503 ? 500 : s) });
    const report = await runConformance(active.url, { standbyUrl: broken, ...fast });
    expect(failing(report), formatConformanceReport(report)).toEqual(['standby.feed', 'standby.not-active']);
    expect(report.results.find((r) => r.id === 'standby.not-active')?.detail).toMatch(/expected HTTP 503/);
  });

  it('a node that ignores X-Hotcold-Timeout-Ms fails the timeout checks', async () => {
    const url = await proxy(active.url, { request: (h) => void delete h['x-hotcold-timeout-ms'] });
    const report = await runConformance(url, fast);
    expect(failing(report), formatConformanceReport(report)).toEqual(['feed.expired', 'timeout.malformed', 'timeout.mid-call', 'timeout.spent']);
    expect(report.results.find((r) => r.id === 'timeout.spent')?.detail).toMatch(/EXPIRED/);
  });

  it('a node whose answers lack X-Hotcold-Dedup fails dedup.advertised; one that sends it when told dedup: false fails it too', async () => {
    const url = await proxy(active.url, { response: (h) => void delete h['x-hotcold-dedup'] });
    const stripped = await runConformance(url, { ...fast, feeds: false });
    expect(failing(stripped), formatConformanceReport(stripped)).toEqual(['dedup.advertised']);
    const told = await runConformance(active.url, { ...fast, dedup: false, feeds: false });
    expect(failing(told), formatConformanceReport(told)).toEqual(['dedup.advertised']);
    expect(told.results.filter((r) => r.id.startsWith('dedup.') && r.outcome === 'skip').length).toBe(4);
  });

  it('an unreachable server fails every check that runs, quickly and without throwing', async () => {
    const gone = await startMutatingProxy(active.url, {});
    const url = gone.url;
    await gone.close();
    const report = await runConformance(url, { ...fast, feeds: false });
    expect(report.passed).toBe(0);
    expect(report.failed).toBe(report.results.length - report.skipped);
    expect(report.results[0]?.detail).toMatch(/ECONNREFUSED/);
    // The first refusal ends the run: the rest are failed without being sent.
    expect(report.results[1]?.detail).toMatch(/^not run: the server did not answer/);
    expect(report.url).toBe(url);
  });

  it('a server that accepts connections and never answers costs one request timeout, not one per check', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer((socket) => {
      sockets.add(socket);
      socket.on('data', () => undefined);
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
      const report = await runConformance(url, { requestTimeoutMs: 500 });
      expect(report.results[0]?.detail).toMatch(/no complete answer within 500 ms/);
      expect(report.results.slice(1).every((r) => r.outcome === 'skip' || r.detail.startsWith('not run:'))).toBe(true);
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it('credentials given to the kit (URL userinfo, headers) appear nowhere in the report', async () => {
    const withUser = active.url.replace('http://', 'http://conf-user:conf-pass-123@');
    const report = await runConformance(withUser, { ...fast, feeds: false, headers: { authorization: 'Bearer conf-token-456' } });
    expect(failing(report), formatConformanceReport(report)).toEqual([]);
    const text = JSON.stringify(report) + formatConformanceReport(report);
    for (const secret of ['conf-pass-123', 'conf-token-456', 'conf-user']) expect(text).not.toContain(secret);
  });

  it('bad options are a ConfigurationError naming the field', async () => {
    await expect(runConformance('not a url')).rejects.toThrow(ConfigurationError);
    await expect(runConformance('http://127.0.0.1:1', { requestTimeoutMs: -1 })).rejects.toThrow(/requestTimeoutMs/);
    await expect(runConformance('http://127.0.0.1:1', { headers: { 'Idempotency-Key': 'x' } })).rejects.toThrow(/headers\.Idempotency-Key/);
    await expect(runConformance('http://127.0.0.1:1', { standbyUrl: 'ftp://x' })).rejects.toThrow(/standbyUrl/);
    await expect(runConformance('http://127.0.0.1:1', { nope: 1 } as never)).rejects.toThrow(/nope/);
    expect(() => conformanceApp({ table: 'x; drop' })).toThrow(/table/);
  });
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[]): Promise<CliRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'conformance', ...args], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, NODE_NO_WARNINGS: '1' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('hotcold conformance (the CLI, a child process)', () => {
  it('prints the pass/fail table and exits 0 for the reference node', async () => {
    const run = await cli([active.url, '--standby', standby.url, '--mid-call-ms', '1500']);
    expect(run.code, run.stdout + run.stderr).toBe(0);
    expect(run.stdout).toMatch(/^RESULT\s+CHECK\s+REQUIREMENT/m);
    expect(run.stdout).toMatch(/^PASS\s+dedup\.repeat\s+§8/m);
    expect(run.stdout).toMatch(/^PASS\s+standby\.not-active/m);
    expect(run.stdout).toMatch(/\d+ passed, 0 failed, 0 skipped: CONFORMS/);
  }, 60_000);

  it('exits 1 and marks the failed checks for a broken server; --json prints the report', async () => {
    const url = await proxy(active.url, { request: (h) => void delete h['x-hotcold-timeout-ms'] });
    const run = await cli([url, '--mid-call-ms', '1500']);
    expect(run.code, run.stdout + run.stderr).toBe(1);
    expect(run.stdout).toMatch(/^FAIL\s+timeout\.spent/m);
    expect(run.stdout).toMatch(/^SKIP\s+standby\.health/m);
    expect(run.stdout).toMatch(/DOES NOT CONFORM/);
    const json = await cli([url, '--mid-call-ms', '1500', '--no-feeds', '--json']);
    expect(json.code).toBe(1);
    const report = JSON.parse(json.stdout) as ConformanceReport;
    expect(report.results.filter((r) => !r.pass).map((r) => r.id).sort()).toEqual(['timeout.malformed', 'timeout.mid-call', 'timeout.spent']);
  }, 60_000);

  it('two `hotcold node --app conformance` processes pass `hotcold conformance` end to end; the ledger app does not expose the methods', async () => {
    const g = fixture();
    const children: NodeProcess[] = [];
    try {
      const common = ['--db', g.dbPath, '--update-interval', '500', '--wait-interval', '5000', '--app', 'conformance'];
      const a = await spawnNode([...common, '--machine', 'cli-a']);
      children.push(a);
      await a.waitFor((l) => l.event === 'node' && l.status === 'active', 30_000, 'cli-a active');
      const b = await spawnNode([...common, '--machine', 'cli-b']);
      children.push(b);
      await b.waitFor((l) => l.event === 'listening', 30_000, 'cli-b listening');
      const run = await cli([a.url, '--standby', b.url, '--mid-call-ms', '1500']);
      expect(run.code, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toMatch(/0 failed, 0 skipped: CONFORMS/);
      // The default app (ledger) is a production-shaped node: no conformance methods.
      const ledger = await spawnNode(['--db', `${g.dir}/ledger.db`, '--update-interval', '500', '--wait-interval', '5000', '--machine', 'cli-l']);
      children.push(ledger);
      await ledger.waitFor((l) => l.event === 'node' && l.status === 'active', 30_000, 'ledger node active');
      const refused = await cli([ledger.url, '--no-feeds', '--json']);
      expect(refused.code).toBe(1);
      const report = JSON.parse(refused.stdout) as ConformanceReport;
      expect(report.results.find((r) => r.id === 'rpc.result')?.detail).toMatch(/-32601|method not found|expected a result/);
    } finally {
      for (const c of children) {
        if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGKILL');
        await c.exited;
      }
      await g.cleanup();
    }
  }, 300_000);

  it('--help exits 0 listing every flag; a missing URL or a bad flag exits 2', async () => {
    const help = await cli(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--standby', '--header', '--caller', '--rpc-path', '--health-path', '--no-dedup', '--no-feeds', '--timeout', '--mid-call-ms', '--json']) {
      expect(help.stdout).toContain(flag);
    }
    expect((await cli([])).code).toBe(2);
    const bad = await cli(['http://127.0.0.1:1', '--bogus']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/bogus/);
  }, 60_000);
});

describe('docs/wire.md', () => {
  it('lists every check of the kit in its table, in run order, and every conformance method', () => {
    const doc = readFileSync(new URL('../../docs/wire.md', import.meta.url), 'utf8');
    const rows = [...doc.matchAll(/^\| `([a-z]+\.[a-z-]+)` \| §/gm)].map((m) => m[1]);
    expect(rows).toEqual(CONFORMANCE_CHECKS.map((c) => c.id));
    for (const method of CONFORMANCE_METHODS) expect(doc).toContain(`| \`${method}\` |`);
  });
});
