/**
 * The replication failover test's driver: a private primary + replica (PostgreSQL or MariaDB),
 * three warm contender processes (contender.ts) reaching the primary through the endpoint proxy,
 * and per failover:
 *
 * 1. wait until a holder has written;
 * 2. stall replication (the replica falls behind), and during the stall make a takeover happen
 *    on the primary: the holder releases, is SIGKILLed, or is SIGSTOPped (seeded choice); wait
 *    (at most `stallMs`) until the new holder has written;
 * 3. sometimes SIGSTOP that new holder too (then no process but a fresh one can be issued its
 *    token again on the new primary);
 * 4. kill the primary (immediate) or freeze it (a partition), promote the replica, repoint the endpoint (in a seeded order); build the next
 *    replica; resume what was stopped, respawn what was killed; wait until a holder writes on the
 *    new primary.
 *
 * Then every contender is stopped and the history is checked (../stress/checker.ts): no token
 * issued to two holders, no token order going back, no overlapping `isValid()` windows, and in
 * the SURVIVING database no write accepted from a superseded holder (the row named someone else,
 * or carried another token, in the write's own transaction). Writes acknowledged by the old
 * primary and missing after the promotion are counted: under asynchronous replication that is the
 * database's documented data loss, not a lease violation; under synchronous replication it is one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHistory, type Acquisition, type Action, type CheckResult, type DbWrite, type Violation } from '../stress/checker.js';
import { readLog, type ContenderRecord } from '../stress/log.js';
import { mulberry32 } from '../stress/random.js';
import type { FailoverOrder } from '../../support/replicated-postgres.js';
import type { ReplicationContenderConfig } from './contender.js';

/** What the driver needs of a replicated database (see test/support/replicated-*.ts). */
export interface FailoverCluster {
  readonly store: 'postgres' | 'mysql';
  /** The endpoint the contenders use. */
  readonly url: string;
  /** A statement on the CURRENT primary, directly (not through the endpoint). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  stallReplication(): void;
  resumeReplication(): void;
  /**
   * Promotes the replica, repoints the endpoint and kills the old primary, first (`kill-first`)
   * or last (`switch-first`); resolves to a description of the new generation.
   */
  failover(order: FailoverOrder): Promise<string>;
  addReplica(): Promise<void>;
  /** Resolves once the replica has replayed everything the primary had committed when called. */
  caughtUp?(): Promise<void>;
  stop(): Promise<void>;
}

export interface FailoverRunOptions {
  cluster: FailoverCluster;
  /** Label of the replication mode, for the summary. */
  mode: string;
  failovers: number;
  /** Whether acknowledged commits must survive a failover (synchronous replication). */
  synchronous: boolean;
  contenders?: number;
  seed?: number;
  /**
   * How long replication stays stalled before the primary dies, at most (ms): the stall ends
   * earlier once a takeover on the primary has written. Default 1500.
   */
  stallMs?: number;
  /** How the primary goes away (a seeded choice among these; see replicated-postgres.ts). Default all three. */
  orders?: readonly FailoverOrder[];
  /** What happens to the holder during the stall (a seeded choice among these). Default all three. */
  faults?: readonly ('release' | 'kill' | 'stop')[];
  progress?: (line: string) => void;
}

export interface FailoverReport {
  result: CheckResult;
  /** Lease violations (every kind of the checker, plus `superseded-write`; `lost-write` only when synchronous). */
  violations: Violation[];
  /** Writes the old primary acknowledged that the surviving database does not have. */
  lostWrites: number;
  /** Failovers whose stall saw a takeover on the primary before it died. */
  takeoversDuringStall: number;
  generations: string[];
  summary: string;
}

const UPDATE_MS = 100;
const WAIT_MS = 500;
const LEASE_NAME = 'repl';
const TABLES = { lease: 'repl_lease', writes: 'repl_writes', counter: 'repl_counter' };
const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const hr = (): bigint => process.hrtime.bigint();

interface Slot {
  index: number;
  child?: ChildProcess | undefined;
  logFile: string;
  outFile: string;
  exited: Promise<void>;
  stopped: boolean;
}

export async function runFailovers(options: FailoverRunOptions): Promise<FailoverReport> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hotcold-repl-run-'));
  try {
    return await runIn(dir, options);
  } finally {
    // Whatever happened (a failover that failed too): the logs go, unless kept for a post-mortem.
    if (process.env.HOTCOLD_STRESS_KEEP === '1') (options.progress ?? (() => undefined))(`logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

async function runIn(dir: string, options: FailoverRunOptions): Promise<FailoverReport> {
  const { cluster } = options;
  const seed = options.seed ?? Date.now() % 2 ** 31;
  const random = mulberry32(seed);
  const stallMs = options.stallMs ?? 1500;
  const progress = options.progress ?? (() => undefined);
  const origin = hr();
  const rel = (ts: bigint): number => Number(ts - origin);
  const deaths: { pid: number; ts: number }[] = [];
  const slots: Slot[] = [];
  const generations: string[] = [];
  let takeoversDuringStall = 0;
  const autoId = cluster.store === 'postgres' ? 'BIGSERIAL PRIMARY KEY' : 'BIGINT AUTO_INCREMENT PRIMARY KEY';
  await cluster.query(`CREATE TABLE ${TABLES.writes} (id ${autoId}, token BIGINT NOT NULL, pid INT NOT NULL, seq INT NOT NULL, lease_token BIGINT NOT NULL, holder TEXT NOT NULL, lease_holder TEXT NOT NULL)`);
  await cluster.query(`CREATE TABLE ${TABLES.counter} (id INT PRIMARY KEY, n BIGINT NOT NULL)`);
  await cluster.query(`INSERT INTO ${TABLES.counter} (id, n) VALUES (1, 0)`);

  const spawnSlot = (slot: Slot): void => {
    const config: ReplicationContenderConfig = {
      slot: slot.index,
      store: cluster.store,
      url: cluster.url,
      leaseTable: TABLES.lease,
      writesTable: TABLES.writes,
      counterTable: TABLES.counter,
      leaseName: LEASE_NAME,
      log: slot.logFile,
      updateInterval: UPDATE_MS,
      waitInterval: WAIT_MS,
      actionGapMs: 20,
      requireSynchronousReplication: false,
    };
    const out = openSync(slot.outFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'contender.ts'), JSON.stringify(config)], { cwd: repoRoot, stdio: ['ignore', out, out] });
    closeSync(out);
    slot.child = child;
    slot.stopped = false;
    slot.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  };
  const signal = (slot: Slot, sig: NodeJS.Signals): number | undefined => {
    const pid = slot.child?.pid;
    if (pid === undefined || slot.child?.exitCode !== null || slot.child.signalCode !== null) return undefined;
    try {
      process.kill(pid, sig);
      return pid;
    } catch {
      return undefined;
    }
  };
  const kill = async (slot: Slot): Promise<void> => {
    const pid = signal(slot, 'SIGKILL');
    if (pid !== undefined) {
      deaths.push({ pid, ts: rel(hr()) });
      await slot.exited;
    }
    slot.child = undefined;
  };

  /** The lease row and the newest write on the current primary (undefined while unreachable). */
  const observe = async (): Promise<{ holder: string | null; token: number; lastWriteToken: number } | undefined> => {
    try {
      const rows = await cluster.query(
        `SELECT l.holder AS holder, l.token AS token, (SELECT MAX(token) FROM ${TABLES.writes}) AS w FROM ${TABLES.lease} l WHERE l.name = '${LEASE_NAME}'`,
      );
      const row = rows[0];
      if (!row) return undefined;
      return { holder: (row.holder as string | null) ?? null, token: Number(row.token), lastWriteToken: row.w === null ? -1 : Number(row.w) };
    } catch {
      return undefined;
    }
  };
  const waitUntil = async (deadlineMs: number, check: (o: NonNullable<Awaited<ReturnType<typeof observe>>>) => boolean): Promise<boolean> => {
    const until = Date.now() + deadlineMs;
    while (Date.now() < until) {
      const o = await observe();
      if (o && check(o)) return true;
      await sleep(25);
    }
    return false;
  };
  const slotOf = (holder: string | null): Slot | undefined => {
    const m = /^repl-(\d+)#/.exec(holder ?? '');
    return m ? slots[Number(m[1])] : undefined;
  };

  try {
    for (let i = 0; i < (options.contenders ?? 3); i++) {
      const slot: Slot = { index: i, logFile: path.join(dir, `c${i}.jsonl`), outFile: path.join(dir, `c${i}.out`), exited: Promise.resolve(), stopped: false };
      slots.push(slot);
      spawnSlot(slot);
    }
    for (let f = 0; f < options.failovers; f++) {
      // 1. A holder that has written.
      if (!(await waitUntil(120_000, (o) => o.holder !== null && o.lastWriteToken === o.token))) throw new Error('no holder wrote within 120 s');
      await cluster.caughtUp?.();
      const before = (await observe())!;
      // 2. Replication stalls; a takeover on the primary meanwhile.
      cluster.stallReplication();
      const stallStart = Date.now();
      const holderSlot = slotOf(before.holder);
      const faults = options.faults ?? (['release', 'kill', 'stop'] as const);
      const fault = faults[Math.floor(random() * faults.length)]!;
      if (holderSlot) {
        if (fault === 'release') signal(holderSlot, 'SIGUSR1');
        else if (fault === 'stop') holderSlot.stopped = signal(holderSlot, 'SIGSTOP') !== undefined;
        else await kill(holderSlot);
      }
      const tookOver = await waitUntil(Math.max(0, stallMs - (Date.now() - stallStart)), (o) => o.token > before.token && o.holder !== null && o.lastWriteToken === o.token);
      let stoppedNew: Slot | undefined;
      if (tookOver) {
        takeoversDuringStall++;
        const now = await observe();
        // 3. Half the time the new holder is frozen across the failover.
        if (now && random() < 0.5) {
          stoppedNew = slotOf(now.holder);
          if (stoppedNew && !stoppedNew.stopped) stoppedNew.stopped = signal(stoppedNew, 'SIGSTOP') !== undefined;
        }
      }
      const orders = options.orders ?? (['kill-first', 'switch-first', 'partition'] as const);
      const order = orders[Math.floor(random() * orders.length)]!;
      progress(`failover ${f + 1} (${order}): ${fault} of ${before.holder} (token ${before.token}); takeover during the stall: ${tookOver}`);
      // 4. The primary dies, the replica is promoted, the endpoint follows (in either order).
      const generation = await cluster.failover(order);
      generations.push(`${generation} (${order})`);
      progress(`  promoted: ${generation}`);
      await cluster.addReplica();
      for (const slot of slots) {
        if (!slot.child) spawnSlot(slot);
      }
      // Someone must serve on the new primary before the frozen ones resume (their tokens may repeat).
      await waitUntil(60_000, (o) => o.holder !== null && o.lastWriteToken === o.token);
      for (const slot of slots) {
        if (slot.stopped) {
          signal(slot, 'SIGCONT');
          slot.stopped = false;
        }
      }
      await sleep(WAIT_MS * 3);
    }
  } finally {
    for (const slot of slots) {
      signal(slot, 'SIGCONT');
      signal(slot, 'SIGTERM');
    }
    await Promise.race([Promise.all(slots.map((s) => s.exited)), sleep(5000)]);
    for (const slot of slots) await kill(slot);
  }

  const records: ContenderRecord[] = readdirSync(dir)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readLog(path.join(dir, f)));
  const actions = new Map<string, Action>();
  const acquisitions: Acquisition[] = [];
  const probes: { pid: number; token: number; ts: number }[] = [];
  for (const r of records) {
    if (r.t === 'valid') probes.push({ pid: r.pid, token: r.token, ts: rel(BigInt(r.ts)) });
    if (r.t === 'acquired') acquisitions.push({ pid: r.pid, token: r.token, ts: rel(BigInt(r.ts)) });
    else if (r.t === 'check') actions.set(`${r.pid}:${r.seq}`, { pid: r.pid, token: r.token, seq: r.seq, check: rel(BigInt(r.ts)) });
    else if (r.t === 'done') {
      const a = actions.get(`${r.pid}:${r.seq}`);
      if (a) {
        a.done = rel(BigInt(r.ts));
        a.outcome = r.outcome;
      }
    }
  }
  const rows = await cluster.query(`SELECT id, token, pid, seq, lease_token, holder, lease_holder FROM ${TABLES.writes} ORDER BY id`);
  const writes: DbWrite[] = rows.map((r) => ({ id: Number(r.id), token: Number(r.token), pid: Number(r.pid), seq: Number(r.seq), leaseToken: Number(r.lease_token) }));
  const counter = Number((await cluster.query(`SELECT n FROM ${TABLES.counter} WHERE id = 1`))[0]?.n);
  const result = checkHistory({ actions: [...actions.values()], acquisitions, faults: [], deaths, writes, counter });
  // The checker keys windows by token: two processes holding the SAME token (what a failover
  // without generations produces) would merge into one window. Here a window is one process's
  // tenure (pid, token), so their overlap and the order of acquisitions are seen as well.
  const violations = result.violations.filter((v) => (options.synchronous || v.kind !== 'lost-write') && v.kind !== 'overlap' && v.kind !== 'token-order');
  violations.push(...tenureViolations(acquisitions, [...actions.values()], probes));
  const lostWrites = result.violations.filter((v) => v.kind === 'lost-write').length;
  for (const r of rows) {
    if (r.holder !== r.lease_holder) {
      violations.push({
        kind: 'stale-write',
        message: `superseded write #${String(r.id)} (pid ${String(r.pid)}, token ${String(r.token)}) accepted while the row named ${String(r.lease_holder)} as holder`,
      });
    }
  }
  const count = (kind: string): number => violations.filter((v) => v.kind === kind).length;
  const superseded = violations.filter((v) => v.message.startsWith('superseded')).length;
  const lines = [
    `replication failover ${cluster.store} (${options.mode}, seed ${seed}, ${slots.length} contenders, update/wait ${UPDATE_MS}/${WAIT_MS} ms, stall ≤ ${stallMs} ms)`,
    `  failovers: ${generations.length} (${generations.join('; ')})   takeovers during a stall: ${takeoversDuringStall}`,
    `  windows: ${result.windows.length}   actions: ${result.actions}   accepted writes surviving: ${result.acceptedWrites}   rejected by the fence: ${result.rejectedStaleWrites}   errored: ${result.erroredActions}`,
    `  acknowledged writes lost with the old primary: ${lostWrites}`,
    `  violations: ${violations.length} (token shared ${count('token-shared')}, token order ${count('token-order')}, overlap ${count('overlap')}, superseded writes accepted ${superseded}, stale-token writes ${count('stale-write') - superseded}, write order ${count('write-order')}, counter ${count('counter')}${options.synchronous ? `, lost writes ${count('lost-write')}` : ''})`,
  ];
  for (const v of violations.slice(0, 12)) lines.push(`    [${v.kind}] ${v.message}`);
  if (violations.length > 12) lines.push(`    … and ${violations.length - 12} more`);
  return { result, violations, lostWrites, takeoversDuringStall, generations, summary: lines.join('\n') };
}

/**
 * Per tenure (process, token): no `isValid()` check passes once another tenure has started, and
 * every acquisition's token exceeds every token acquired before it.
 */
export function tenureViolations(
  acquisitions: readonly Acquisition[],
  actions: readonly Action[],
  probes: readonly { pid: number; token: number; ts: number }[] = [],
): Violation[] {
  const violations: Violation[] = [];
  const tenures = new Map<string, { pid: number; token: number; start: number; lastCheck: number }>();
  const tenure = (pid: number, token: number): { pid: number; token: number; start: number; lastCheck: number } => {
    const key = `${pid}:${token}`;
    let t = tenures.get(key);
    if (!t) {
      t = { pid, token, start: Infinity, lastCheck: -Infinity };
      tenures.set(key, t);
    }
    return t;
  };
  for (const a of acquisitions) {
    const t = tenure(a.pid, a.token);
    t.start = Math.min(t.start, a.ts);
  }
  for (const a of actions) {
    const t = tenure(a.pid, a.token);
    t.start = Math.min(t.start, a.check);
    t.lastCheck = Math.max(t.lastCheck, a.check);
  }
  for (const p of probes) {
    const t = tenure(p.pid, p.token);
    t.start = Math.min(t.start, p.ts);
    t.lastCheck = Math.max(t.lastCheck, p.ts);
  }
  const sorted = [...tenures.values()].sort((x, y) => x.start - y.start);
  for (let i = 0; i < sorted.length; i++) {
    const a = sorted[i]!;
    for (let j = i + 1; j < sorted.length; j++) {
      const b = sorted[j]!;
      if (a.lastCheck >= b.start) {
        violations.push({
          kind: 'overlap',
          message: `pid ${a.pid} (token ${a.token}) passed isValid() ${((a.lastCheck - b.start) / 1e6).toFixed(3)} ms into the tenure of pid ${b.pid} (token ${b.token})`,
        });
      }
    }
  }
  let highest = -Infinity;
  let highestBy = '';
  for (const a of [...acquisitions].sort((x, y) => x.ts - y.ts)) {
    if (a.token <= highest) {
      violations.push({ kind: 'token-order', message: `pid ${a.pid} acquired token ${a.token} after ${highestBy} had acquired token ${highest}` });
    }
    if (a.token > highest) {
      highest = a.token;
      highestBy = `pid ${a.pid}`;
    }
  }
  return violations;
}
