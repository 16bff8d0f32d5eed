/**
 * Issue 7.2, SQLite: the hot node is frozen (SIGSTOP) in the middle of a call, holding the
 * application database's write lock. Two real node processes on one real SQLite file.
 *
 * The scenario runs once (beforeAll) and records what it saw; each property is its own test, so
 * each fails on its own when it breaks. Timing: no bound on how soon (the machine is shared);
 * only the lag bound, a fraction of the synchronous busy wait it rules out.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../', import.meta.url));
const UPDATE_MS = 300;
const WAIT_MS = 1500;
const BUSY_MS = 2000; // the default busyTimeoutMs

interface Child {
  proc: ChildProcess;
  lines: Array<Record<string, unknown>>;
  port: number;
  url: string;
}

function spawnChild(db: string, machine: string): Promise<Child> {
  const proc = spawn(process.execPath, ['--import', 'tsx', 'test/node/sqlite-frozen-child.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      NODE_NO_WARNINGS: '1',
      HOTCOLD_CHILD: JSON.stringify({ db, machine, updateInterval: UPDATE_MS, waitInterval: WAIT_MS, busyTimeoutMs: BUSY_MS }),
    },
  });
  const lines: Array<Record<string, unknown>> = [];
  let stderr = '';
  proc.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${machine} did not listen; stderr: ${stderr}`)), 60_000);
    createInterface({ input: proc.stdout }).on('line', (text) => {
      let line: Record<string, unknown>;
      try {
        line = JSON.parse(text) as Record<string, unknown>;
      } catch {
        line = { event: 'garbage', text };
      }
      line.seen = Date.now();
      lines.push(line);
      if (line.event === 'listening') {
        clearTimeout(timer);
        const port = line.port as number;
        resolve({ proc, lines, port, url: `http://127.0.0.1:${port}` });
      }
    });
    proc.once('exit', () => reject(new Error(`${machine} exited; stderr: ${stderr}`)));
  });
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function health(url: string): Promise<number> {
  try {
    const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
    await res.text();
    return res.status;
  } catch {
    return 0;
  }
}

interface Answer {
  status: number;
  body: Record<string, unknown> | undefined;
  ms: number;
}

async function call(url: string, method: string, key: string, timeoutMs = 15_000): Promise<Answer> {
  const started = Date.now();
  try {
    const res = await fetch(`${url}/rpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method }),
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    let body: Record<string, unknown> | undefined;
    try {
      body = JSON.parse(text) as Record<string, unknown>;
    } catch {
      body = { raw: text };
    }
    return { status: res.status, body, ms: Date.now() - started };
  } catch (error) {
    return { status: 0, body: { error: String(error) }, ms: Date.now() - started };
  }
}

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return true;
    await sleep(20);
  }
  return false;
}

/** What the scenario saw; each test asserts one part of it. */
interface Observed {
  /** ms from SIGSTOP of A until B answered /health 200, or undefined if never (within 8 s). */
  takeoverMs?: number;
  /** B's 'acquired' time minus (A's last acknowledged renewal + W): the takeover's overshoot (>= the true one minus the renewal's latency). */
  overshootMs?: number;
  /** B's largest event-loop lag while A was frozen. */
  standbyMaxLagMs: number;
  /** A call to B while A still held the write lock. */
  lockedCall?: Answer;
  lockedCallRowWritten?: boolean;
  /** The same call retried after A resumed, until it succeeded (or 10 s). */
  retriedCall?: Answer;
  retriedRows?: number;
  /**
   * After SIGCONT: A answering health 200 or becoming active again other than through a
   * legitimate takeover (below), with the evidence for the report.
   */
  resumedRegained: boolean;
  /**
   * Takeovers after SIGCONT that came while the previous holder's lease was still live: sooner
   * than W after the send of its last successful renewal. Under load B may legitimately miss
   * its renewals and lapse, and A (warm) then takes over with a new token: that is correct, and
   * told apart from a regression by these times, not by B staying active.
   */
  earlyTakeovers: string[];
  /** B lost the lease as 'superseded' after SIGCONT while its lease was live, without any takeover (token above B's) to explain it. */
  supersededWithoutTakeover: boolean;
  /** A's in-flight call (frozen mid-handler). */
  frozenCall?: Answer;
  frozenCallRowWritten?: boolean;
  aLines: string;
}

describe('SQLite: the hot node frozen mid-call holding the write lock (two node processes, SIGSTOP)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hotcold-frozen-'));
  const db = join(dir, 'shared.db');
  const children: Child[] = [];
  const observed: Observed = { standbyMaxLagMs: Number.NaN, resumedRegained: false, earlyTakeovers: [], supersededWithoutTakeover: false, aLines: '' };
  const rowsFor = (key: string): number => {
    const conn = new Database(db, { readonly: true });
    try {
      return (conn.prepare('SELECT COUNT(*) AS c FROM frozen_calls WHERE k = ?').get(key) as { c: number }).c;
    } finally {
      conn.close();
    }
  };

  beforeAll(async () => {
    const setup = new Database(db);
    setup.pragma('journal_mode = WAL');
    setup.exec('CREATE TABLE frozen_calls (k TEXT PRIMARY KEY, node TEXT NOT NULL)');
    setup.close();

    const a = await spawnChild(db, 'a');
    children.push(a);
    expect(await until(async () => (await health(a.url)) === 200, 20_000), 'A becomes active').toBe(true);
    const b = await spawnChild(db, 'b');
    children.push(b);
    expect(await until(() => b.lines.some((l) => l.event === 'lease' && l.status === 'standby'), 20_000)).toBe(true);
    // Let B settle into its polling (start-up costs are not what this test measures).
    await sleep(500);

    const frozenCall = call(a.url, 'slow', 'slow-1', 30_000);
    expect(await until(() => a.lines.some((l) => l.event === 'handler-start'), 10_000), 'slow handler started').toBe(true);
    await sleep(100);
    a.proc.kill('SIGSTOP');
    const stoppedAt = Date.now();
    try {
      // 1. takeover while A is frozen with the write lock
      if (await until(async () => (await health(b.url)) === 200, 8_000)) observed.takeoverMs = Date.now() - stoppedAt;
      // 2. a call to B while A still holds the application's write lock
      if (observed.takeoverMs !== undefined) {
        observed.lockedCall = await call(b.url, 'write', 'w-1', 15_000);
        observed.lockedCallRowWritten = rowsFor('w-1') > 0;
      }
      // Keep A frozen well past its own deadline.
      const frozenFor = Date.now() - stoppedAt;
      if (frozenFor < 4_000) await sleep(4_000 - frozenFor);
    } finally {
      // 3. B's event loop while A was frozen (lines B printed after the stop)
      const lags = b.lines.filter((l) => l.event === 'lag' && (l.seen as number) > stoppedAt + 150).map((l) => l.maxMs as number);
      observed.standbyMaxLagMs = lags.length === 0 ? Number.NaN : Math.max(...lags);
      if (process.env.HOTCOLD_DEBUG_LAG) console.log(`lags: ${lags.join(",")}`);
      a.proc.kill('SIGCONT');
    }
    const resumedAt = Date.now();
    // 4. A resumed: it must fence itself and never take the lease back while B's is live. (B may
    // legitimately lapse under load, and A then take over: judged below by the renewals' times.)
    const aHealthy: number[] = [];
    const watchUntil = resumedAt + 3_000;
    while (Date.now() < watchUntil) {
      if ((await health(a.url)) === 200) aHealthy.push(Date.now());
      await sleep(50);
    }
    // Every takeover after the resume, by either node, must come no sooner than W after the send
    // of the previous holder's last successful renewal (the database stamps a renewal after its
    // send; a standby may take over only once that stamp is W old). One host, one Date.now().
    const sends = (c: Child): number[] => c.lines.filter((l) => l.event === 'renewed').map((l) => (l.t as number) - (l.latencyMs as number));
    const takeovers = [...a.lines.map((l) => ({ l, by: a, from: b })), ...b.lines.map((l) => ({ l, by: b, from: a }))]
      .filter(({ l }) => l.event === 'acquired' && (l.t as number) > resumedAt);
    const legit: Array<{ by: Child; t: number; token: number }> = [];
    for (const { l, by, from } of takeovers) {
      const t = l.t as number;
      const before = sends(from).filter((s) => s < t);
      const last = before.length === 0 ? Number.NEGATIVE_INFINITY : Math.max(...before);
      // 5 ms: SQLite stamps in whole milliseconds; Date.now() too.
      if (t < last + WAIT_MS - 5) observed.earlyTakeovers.push(`${by === a ? 'a' : 'b'} took token ${String(l.token)} ${t - last} ms after the other's last renewal send`);
      else legit.push({ by, t, token: l.token as number });
    }
    // A answering 200, or reporting active, after the resume: only through a legitimate new tenure.
    const aLegitSince = Math.min(...legit.filter((x) => x.by === a).map((x) => x.t));
    if (aHealthy.some((at) => at < aLegitSince)) observed.resumedRegained = true;
    const aLegitTokens = new Set(legit.filter((x) => x.by === a).map((x) => x.token));
    if (a.lines.some((l) => l.event === 'lease' && l.status === 'active' && (l.seen as number) > resumedAt && !aLegitTokens.has(l.token as number))) observed.resumedRegained = true;
    // B superseded after the resume: someone took a higher token (checked above for its timing),
    // or B's lease had run out by the database clock (the renewal statement rejects an expired
    // lease with the same cause: a B starved past its own deadline can send one before its
    // deadline timer runs, and A's takeover may come after this analysis). Expired means the
    // rejection came >= W after the send of B's last successful renewal; before that only a
    // takeover can explain it.
    for (const l of b.lines.filter((x) => x.event === 'lost' && x.cause === 'superseded' && (x.t as number) > resumedAt)) {
      const t = l.t as number;
      const before = sends(b).filter((sentAt) => sentAt < t);
      // No renewal known (only B's takeover, whose send is not printed): a takeover must explain it.
      const expired = before.length > 0 && t >= Math.max(...before) + WAIT_MS - 5;
      if (!expired && !takeovers.some((x) => x.by === a && (x.l.token as number) > (l.token as number))) observed.supersededWithoutTakeover = true;
    }
    observed.frozenCall = await frozenCall;
    observed.frozenCallRowWritten = rowsFor('slow-1') > 0;
    // 5. once the lock is gone, the call succeeds on B
    const end = Date.now() + 10_000;
    for (;;) {
      const answer = await call(b.url, 'write', 'w-1', 10_000);
      if (answer.status === 200 || Date.now() > end) {
        observed.retriedCall = answer;
        break;
      }
      await sleep(100);
    }
    observed.retriedRows = rowsFor('w-1');
    const lastRenewal = Math.max(...a.lines.filter((l) => (l.event === 'renewed' || l.event === 'acquired') && (l.t as number) <= stoppedAt).map((l) => l.t as number));
    const acquiredByB = b.lines.find((l) => l.event === 'acquired');
    if (acquiredByB) observed.overshootMs = (acquiredByB.t as number) - (lastRenewal + WAIT_MS);
    observed.aLines = JSON.stringify(a.lines.filter((l) => l.event !== 'lag' && l.event !== 'renewed').slice(-12));
    console.log(
      `[frozen holder] takeover ${observed.takeoverMs ?? 'never'} ms after SIGSTOP (W ${WAIT_MS}), ${observed.overshootMs ?? '?'} ms after A's last renewal + W; standby max loop lag ${observed.standbyMaxLagMs} ms; ` +
        `call while locked: ${observed.lockedCall?.status} ${JSON.stringify(observed.lockedCall?.body)} in ${observed.lockedCall?.ms} ms; ` +
        `frozen call: ${observed.frozenCall?.status} ${JSON.stringify(observed.frozenCall?.body)}; resumed regained: ${observed.resumedRegained}`,
    );
  }, 120_000);

  afterAll(async () => {
    for (const child of children) {
      child.proc.kill('SIGCONT');
      child.proc.kill('SIGKILL');
    }
    await sleep(100);
    rmSync(dir, { recursive: true, force: true });
  });

  it('the standby becomes active while the frozen process holds the write lock', () => {
    // Became active within the 8 s it was watched while A stayed frozen (A gets SIGCONT only
    // after): a lease behind the application's lock could not have been taken at all. How soon
    // (W + 100 ms from A's last acknowledged renewal; quiet runs show a few ms past W, printed
    // above as the overshoot) is a speed claim: bench/lease.ts, docs/lease.md.
    expect(observed.takeoverMs, 'B never became active while A was frozen').toBeDefined();
    expect(observed.overshootMs).toBeDefined();
  });

  it("the standby's event loop is never blocked by a busy wait (max lag under busyTimeoutMs; a synchronous busy_timeout blocked it for all of it)", () => {
    expect(Number.isNaN(observed.standbyMaxLagMs)).toBe(false);
    // One synchronous busy wait is busyTimeoutMs (2000 here) or more: bounded by a fraction of
    // that, not by how little lag a quiet machine shows (a few ms; at load averages of 16–37 on
    // 2 cores spikes of up to ~170 ms were seen from scheduling alone, ~9x below this bound).
    expect(observed.standbyMaxLagMs).toBeLessThan(0.75 * BUSY_MS);
  });

  it('a call reaching the new node while the data is locked is answered 503 NOT_EXECUTED within the bound, and nothing is written', () => {
    expect(observed.lockedCall, 'no call was made: the standby never took over').toBeDefined();
    expect(observed.lockedCall!.status).toBe(503);
    expect(observed.lockedCall!.body?.error).toBe('NOT_EXECUTED');
    // Within the bound, not at the lock's release: A stays frozen (holding the lock) until this
    // answer came, so a 503 NOT_EXECUTED at all means the node gave up on busyTimeoutMs. How soon
    // after it is a speed claim; the call's own 15 s timeout guards against a hang (status 0).
    expect(observed.lockedCallRowWritten).toBe(false);
  });

  it('the same call succeeds once the frozen holder resumed and rolled back (exactly one row)', () => {
    expect(observed.retriedCall?.status).toBe(200);
    expect(observed.retriedCall?.body?.result).toBe('ok');
    expect(observed.retriedRows).toBe(1);
  });

  it('the resumed holder fences itself: its call is rolled back (not executed) and it never takes the lease back', () => {
    expect(observed.resumedRegained, observed.aLines).toBe(false);
    expect(observed.earlyTakeovers, observed.aLines).toEqual([]);
    expect(observed.supersededWithoutTakeover, observed.aLines).toBe(false);
    expect(observed.frozenCall?.status).toBe(503);
    expect(observed.frozenCallRowWritten).toBe(false);
  });
});
