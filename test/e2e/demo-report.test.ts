/**
 * `hotcold demo --report FILE` as a user runs it (the CLI as a child process), then the page in a
 * real headless browser: Debian's Chromium driven by playwright-core (no browser download). The
 * page must make no request, show a series per node, the outage window, each node's state and
 * epoch, every retry and failure, and the summary table with the numbers `--json` printed; a
 * screenshot is saved as a test artifact (test-results/failover-report.png) and must not be blank.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliCommand } from '../../src/cli/demo/node-process.js';
import { fromTo, type RunSummary } from '../../src/cli/demo/report.js';

const CHROMIUM = process.env.HOTCOLD_CHROMIUM ?? '/usr/bin/chromium';
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI === 'true') throw new Error(`Chromium (${CHROMIUM}) is required in CI (CI=true) but is not installed: apt-get install chromium`);
if (!haveChromium) process.stderr.write(`\n\n*** Chromium is NOT installed at ${CHROMIUM}: the demo report browser test is SKIPPED ***\n\n`);

const ARTIFACTS = join(cliCommand().cwd, 'test-results');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function demo(args: string[]): Promise<Run> {
  const cli = cliCommand();
  return new Promise((resolve, reject) => {
    const child = spawn(cli.command, [...cli.args, 'demo', ...args], { cwd: cli.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 110_000);
    child.once('error', reject);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Distinct RGBA values and the share of pixels that are not the page's white. */
function pixelStats(png: Buffer): { colours: Set<number>; inked: number } {
  const image = PNG.sync.read(png);
  const colours = new Set<number>();
  let inked = 0;
  for (let i = 0; i < image.data.length; i += 4) {
    const [r, g, b, a] = [image.data[i] ?? 0, image.data[i + 1] ?? 0, image.data[i + 2] ?? 0, image.data[i + 3] ?? 0];
    colours.add(((r << 24) | (g << 16) | (b << 8) | a) >>> 0);
    if (r < 250 || g < 250 || b < 250) inked += 1;
  }
  return { colours, inked: inked / (image.width * image.height) };
}

const rgb = (hex: string): number => ((Number.parseInt(hex.slice(1), 16) << 8) | 0xff) >>> 0;

describe('hotcold demo --report', () => {
  it('refuses a report in a folder that does not exist, naming --report, before starting anything', async () => {
    const run = await demo(['--report', '/nonexistent-hotcold-dir/x.html']);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/--report.*folder \/nonexistent-hotcold-dir does not exist/);
    expect(run.stderr).not.toContain('starting');
  }, 60_000);
});

describe.runIf(haveChromium)('hotcold demo --report in headless Chromium', () => {
  let dir = '';
  let browser: Browser | undefined;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'hotcold-report-'));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--force-color-profile=srgb'],
    });
  });
  afterAll(async () => {
    await browser?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a crash failover: the page shows the series per node, outage, states and epochs, retries, failures and the JSON summary', async () => {
    const file = join(dir, 'failover.html');
    const run = await demo(['--json', '--seconds', '4', '--report', file]);
    expect(run.code, run.stderr).toBe(0);
    const summary = JSON.parse(run.stdout.trim()) as RunSummary;
    expect(run.stderr).toContain(`report written to ${file}`);
    const html = readFileSync(file, 'utf8');
    expect(html).not.toMatch(/<script(?![^>]*type="application\/json")/); // no executable script
    expect(html).not.toMatch(/\b(src|href)=/); // nothing to load

    if (!browser) throw new Error('Chromium did not start');
    const page = await browser.newPage({ viewport: { width: 1040, height: 900 } });
    const requests: string[] = [];
    page.on('request', (request) => requests.push(request.url()));
    const url = pathToFileURL(file).href;
    await page.goto(url);
    expect(requests).toEqual([url]); // self-contained: the page itself and nothing else

    // The timeline: one series per node, each node that served has calls on it.
    const timeline = page.locator('svg#timeline');
    await expect.poll(() => timeline.count()).toBe(1);
    const series = await page.$$eval('svg#timeline g.series', (gs) => gs.map((g) => ({ node: g.getAttribute('data-node'), calls: Number(g.getAttribute('data-calls')), height: g.querySelector('path.line')?.getBoundingClientRect().height ?? 0 })));
    const names = series.map((s) => s.node);
    expect(names).toContain(summary.from.node);
    expect(names).toContain(summary.to.node);
    expect(names).not.toContain('unknown'); // every answer said which epoch executed it
    expect(series.reduce((sum, s) => sum + s.calls, 0)).toBe(summary.acknowledged);
    for (const s of series.filter((x) => x.node === summary.from.node || x.node === summary.to.node)) {
      expect(s.calls, String(s.node)).toBeGreaterThan(0);
      expect(s.height, String(s.node)).toBeGreaterThan(0);
    }

    // The outage window, as long as the summary says.
    const outage = page.locator('#outage');
    expect(summary.outageMs).toBeGreaterThan(0);
    await expect.poll(() => outage.count()).toBe(1);
    const span = Number(await outage.getAttribute('data-end-ms')) - Number(await outage.getAttribute('data-start-ms'));
    expect(Math.abs(span - summary.outageMs)).toBeLessThanOrEqual(1);
    expect((await outage.locator('rect').boundingBox())?.width ?? 0).toBeGreaterThan(0);

    // Lease holder and epoch: the old node active under its epoch, then gone; the new one
    // active under the higher epoch; the client's view follows.
    const state = (node: string | undefined, which: string): Promise<number> => page.locator(`.lane-node[data-node="${node}"] .state[${which}]`).count();
    expect(await state(summary.from.node, `data-state="active"][data-epoch="${summary.from.epoch}"`)).toBeGreaterThan(0);
    expect(await state(summary.from.node, 'data-state="exited"')).toBeGreaterThan(0);
    expect(await state(summary.to.node, `data-state="active"][data-epoch="${summary.to.epoch}"`)).toBeGreaterThan(0);
    expect(await page.locator(`.lane-client .view[data-node="${summary.to.node}"][data-epoch="${summary.to.epoch}"]`).count()).toBeGreaterThan(0);
    expect(await page.locator('.mark[data-kind="fault"]').textContent()).toContain(`SIGKILL ${summary.from.node}`);
    expect(await page.locator('.mark[data-kind="takeover"]').count()).toBe(1);

    // Every retry and every failure is marked.
    expect(await page.locator('svg#timeline line.retry').count()).toBe(summary.retried);
    expect(await page.locator('svg#timeline path.failure').count()).toBe(summary.failedCalls);

    // The summary table carries the numbers --json printed.
    const cell = async (key: string): Promise<string> => ((await page.locator(`#summary tr[data-key="${key}"] td`).textContent()) ?? '').trim();
    for (const key of ['calls', 'acknowledged', 'retried', 'lost', 'duplicates', 'misclassified', 'failovers', 'callers'] as const) expect(await cell(key), key).toBe(String(summary[key]));
    expect(Number.parseInt(await cell('failedCalls'), 10)).toBe(summary.failedCalls);
    for (const key of ['outageMs', 'longestGapMs', 'takeoverMs', 'slowestFailoverCallMs', 'slowestCallMs'] as const) {
      expect(Math.abs(Number.parseInt(await cell(key), 10) - (summary[key] ?? Number.NaN)), key).toBeLessThanOrEqual(1);
    }
    expect(await cell('from-to')).toBe(fromTo(summary));
    expect(await cell('from-to')).toContain(`${summary.from.node} (epoch ${summary.from.epoch}) -> `);
    expect(await page.locator('#verdict').textContent()).toContain('nothing lost');

    // The screenshot: saved for people, and not blank.
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = await page.screenshot({ path: join(ARTIFACTS, 'failover-report.png'), fullPage: true });
    const { colours, inked } = pixelStats(shot);
    expect(colours.size).toBeGreaterThan(32);
    expect(inked).toBeGreaterThan(0.05);
    // The node colours of the series and lanes are on the screen.
    expect(colours.has(rgb('#2563eb')), 'first node colour').toBe(true);
    expect(colours.has(rgb('#ea580c')), 'second node colour').toBe(true);
    await page.close();
  }, 150_000);
});
