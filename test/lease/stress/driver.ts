/**
 * The stress driver: sets up a run's tables, spawns the contenders, injects faults (seeded), shuts
 * everything down, and hands the merged history to the checker. Everything it creates — child
 * processes, tables, temp files, connections — is removed in `finally`, even when a step fails.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkHistory, formatSummary, type Acquisition, type Action, type CheckResult, type Fault, type FaultKind } from './checker.js';
import type { ContenderConfig } from './contender.js';
import type { PeerConfig } from './peer.js';
import { lastRecord, readLog, type ContenderRecord } from './log.js';
import { mulberry32 } from './random.js';
import { databaseFor, LOCK_MODES, openAdmin, openStore, runTables, type OpenedStore, type RunTables, type StoreKind } from './stores.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const repoRoot = path.resolve(here, '../../..');
const contenderScript = path.join(here, 'contender.ts');
const peerScript = path.join(here, 'peer.ts');

export type Scenario =
  /** Faults of every kind the store supports, at random (seeded) times, mostly on the holder. */
  | 'random'
  /** Repeatedly SIGSTOP the holder until a standby took over and served, then SIGCONT it. */
  | 'stale-holder';

export interface StressOptions {
  store: StoreKind;
  /** How long faults are injected (the random scenario), in seconds. */
  seconds: number;
  /**
   * Count `seconds` from the spawn of the contenders rather than from the first acquisition, with
   * at least `minFaultSeconds` of faults: keeps `npm test` near its time budget on a busy machine,
   * where starting five TypeScript processes can take many seconds.
   */
  includeStartup?: boolean;
  minFaultSeconds?: number;
  /**
   * Keep injecting faults past `seconds` until the observer has seen this many changes of
   * holder (at most `maxExtraSeconds` more, default 40): on a loaded machine few faults fit in the time, and
   * a run without takeovers proves nothing. Default 0.
   */
  minTakeovers?: number;
  maxExtraSeconds?: number;
  seed?: number;
  scenario?: Scenario;
  /** Contender processes; default 5. */
  contenders?: number;
  /** The random scenario's fault kinds; default every kind the store supports. */
  faultKinds?: readonly FaultKind[];
  updateInterval?: number;
  waitInterval?: number;
  actionGapMs?: number;
  /** false: the negative control (`unsafeDisableSelfFencing` in every contender). */
  selfFencing?: boolean;
  /** stale-holder: at most this many SIGSTOP rounds; stops early once an overlap is seen. */
  rounds?: number;
  progress?: (line: string) => void;
}

export interface StressReport {
  store: StoreKind;
  seed: number;
  scenario: Scenario;
  selfFencing: boolean;
  result: CheckResult;
  summary: string;
  /** Contender exits the driver did not cause (crashes): must be 0. */
  unexpectedExits: string[];
  /** PostgreSQL sessions / MariaDB threads killed by `conn` faults. */
  connectionsKilled: number;
  /** What each `lock` fault held (or why it could not). */
  locks: string[];
  /** The run's tables (already dropped when the report is returned). */
  tables: RunTables;
}

interface Slot {
  index: number;
  incarnation: number;
  child: ChildProcess | undefined;
  exited: Promise<void>;
  /** Set while the driver itself is ending this process. */
  expectExit: boolean;
  logFile: string;
  outFile: string;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const hr = (): bigint => process.hrtime.bigint();

export async function runStress(options: StressOptions): Promise<StressReport> {
  const seed = options.seed ?? (Date.now() % 2 ** 31);
  const scenario = options.scenario ?? 'random';
  const selfFencing = options.selfFencing ?? true;
  const contenders = options.contenders ?? 5;
  const updateInterval = options.updateInterval ?? 100;
  const waitInterval = options.waitInterval ?? 500;
  // The stale-holder scenario freezes the holder between actions: leave it room to.
  const actionGapMs = options.actionGapMs ?? (scenario === 'stale-holder' ? 40 : 10);
  const blockMs = Math.round(waitInterval * 1.6);
  const progress = options.progress ?? (() => undefined);
  const random = mulberry32(seed);
  const runId = randomBytes(4).toString('hex');
  const tables = runTables(runId);
  const leaseName = `stress-${runId}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), `hotcold-stress-${runId}-`));
  const db = databaseFor(options.store, path.join(dir, 'lease.db'));
  const base = hr();
  const phase = (what: string): void => progress(`stress: +${(Number(hr() - base) / 1e6).toFixed(0)} ms ${what}`);
  progress(`stress ${options.store}: seed ${seed}, scenario ${scenario}, self-fencing ${selfFencing ? 'on' : 'OFF'}, run ${runId}`);

  const faults: Fault[] = [];
  const deaths: { pid: number; ts: bigint }[] = [];
  const unexpectedExits: string[] = [];
  const slots: Slot[] = [];
  let connectionsKilled = 0;
  const locks: string[] = [];
  /** Stress peers (peer.ts) alive: restarting standbys, processes frozen in start-up. */
  const peers = new Set<ChildProcess>();
  let peerCount = 0;
  let startupFault: Promise<void> | undefined;
  /** Set once the run is shutting down: background faults stop early. */
  let stopping = false;
  let admin: Awaited<ReturnType<typeof openAdmin>> | undefined;
  let observer: OpenedStore | undefined;

  const appNameOf = (slot: Slot): string => `hcs_${runId}_${slot.index}_${slot.incarnation}`;

  const spawnSlot = (slot: Slot): void => {
    slot.incarnation += 1;
    slot.logFile = path.join(dir, `slot-${slot.index}-${slot.incarnation}.jsonl`);
    slot.outFile = path.join(dir, `slot-${slot.index}-${slot.incarnation}.out`);
    const config: ContenderConfig = {
      slot: slot.index,
      store: options.store,
      db,
      leaseTable: tables.lease,
      writesTable: tables.writes,
      counterTable: tables.counter,
      leaseName,
      log: slot.logFile,
      updateInterval,
      waitInterval,
      blockMs,
      actionGapMs,
      appName: appNameOf(slot),
      unsafeDisableSelfFencing: !selfFencing,
    };
    const out = openSync(slot.outFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', contenderScript, JSON.stringify(config)], {
      cwd: repoRoot,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    slot.child = child;
    slot.expectExit = false;
    slot.exited = new Promise<void>((resolve) => {
      child.once('exit', (code, signal) => {
        if (!slot.expectExit) {
          unexpectedExits.push(`slot ${slot.index} pid ${child.pid} exited by itself (code ${code}, signal ${signal}): ${tail(slot.outFile)}`);
        }
        if (slot.child === child) slot.child = undefined;
        resolve();
      });
    });
  };

  const spawnPeer = (what: Pick<PeerConfig, 'mode' | 'cycles' | 'runMs'>): { child: ChildProcess; logFile: string; appName: string; exited: Promise<void> } => {
    peerCount += 1;
    const logFile = path.join(dir, `peer-${peerCount}.jsonl`);
    const outFile = path.join(dir, `peer-${peerCount}.out`);
    const config: PeerConfig = {
      ...what,
      store: options.store,
      db,
      leaseTable: tables.lease,
      leaseName,
      log: logFile,
      updateInterval,
      waitInterval,
      appName: `hcs_${runId}_peer_${peerCount}`,
    };
    const out = openSync(outFile, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', peerScript, JSON.stringify(config)], { cwd: repoRoot, stdio: ['ignore', out, out] });
    closeSync(out);
    peers.add(child);
    const exited = new Promise<void>((resolve) => {
      child.once('exit', () => {
        peers.delete(child);
        resolve();
      });
    });
    return { child, logFile, appName: config.appName, exited };
  };

  /** Tokens the observer has seen held: their count − 1 is a lower bound on the takeovers. */
  const tokensSeen = new Set<number>();
  const holderSlot = async (): Promise<number | undefined> => {
    try {
      const record = await observer?.store.read(leaseName);
      if (record?.holder) tokensSeen.add(record.token);
      if (!record?.machineName || record.expiresInMs <= 0) return undefined;
      const match = /^stress-(\d+)$/.exec(record.machineName);
      return match ? Number(match[1]) : undefined;
    } catch {
      return undefined;
    }
  };

  const waitForHolder = async (timeoutMs: number, not?: number): Promise<number | undefined> => {
    const until = Date.now() + timeoutMs;
    while (Date.now() < until) {
      const h = await holderSlot();
      if (h !== undefined && h !== not) return h;
      await sleep(20);
    }
    return undefined;
  };

  const signal = (slot: Slot, sig: NodeJS.Signals): number | undefined => {
    const child = slot.child;
    if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return undefined;
    child.kill(sig);
    return child.pid;
  };

  const inject = async (kind: FaultKind, slot: Slot): Promise<void> => {
    const pid = slot.child?.pid;
    if (pid === undefined) return;
    switch (kind) {
      case 'kill': {
        slot.expectExit = true;
        signal(slot, 'SIGKILL');
        const ts = hr();
        await slot.exited;
        deaths.push({ pid, ts });
        faults.push({ kind, pid, start: rel(ts), end: rel(ts) });
        spawnSlot(slot);
        return;
      }
      case 'stop': {
        const start = hr();
        signal(slot, 'SIGSTOP');
        await sleep(Math.round(waitInterval * (1.2 + random() * 1.3)));
        signal(slot, 'SIGCONT');
        faults.push({ kind, pid, start: rel(start), end: rel(hr()) });
        return;
      }
      case 'block': {
        // Before its handler is installed SIGUSR2 would kill the contender: skip a fresh one.
        if (!existsSync(slot.logFile) || statSync(slot.logFile).size === 0) return;
        const start = hr();
        signal(slot, 'SIGUSR2');
        faults.push({ kind, pid, start: rel(start), end: rel(start) + blockMs * 1e6 });
        // Let it run its course before the next fault.
        await sleep(blockMs + 50);
        return;
      }
      case 'lock': {
        const mode = LOCK_MODES[Math.floor(random() * LOCK_MODES.length)] ?? 'row-update';
        const holdMs = Math.round(waitInterval * (0.3 + random() * 1.7));
        const start = hr();
        const what = (await admin?.holdLock(tables.lease, leaseName, mode, holdMs)) ?? 'no admin';
        locks.push(what);
        progress(`stress: lock fault: ${what}`);
        faults.push({ kind, pid: -1, start: rel(start), end: rel(hr()) });
        return;
      }
      case 'restart': {
        // At most two at once: each is a TypeScript process start, the dearest thing here.
        if (peers.size >= 2) return;
        const start = hr();
        spawnPeer({ mode: 'restart', cycles: 3, runMs: Math.round(100 + random() * waitInterval) });
        faults.push({ kind, pid: -1, start: rel(start), end: rel(start) });
        return;
      }
      case 'startup': {
        // In the background (process start is slow on a busy machine: the other faults go on
        // meanwhile), one at a time.
        if (startupFault) return;
        startupFault = freezeInStartup().finally(() => {
          startupFault = undefined;
        });
        return;
      }
      case 'conn': {
        const threadIds = readLog(slot.logFile).flatMap((r) => (r.t === 'conn' ? [r.id] : []));
        const start = hr();
        const killed = (await admin?.killConnections({ appName: appNameOf(slot), threadIds })) ?? 0;
        connectionsKilled += killed;
        progress(`stress: conn fault on slot ${slot.index} (pid ${pid}): ${killed} connection(s) killed`);
        faults.push({ kind, pid, start: rel(start), end: rel(hr()) });
        return;
      }
    }
  };

  const rel = (ts: bigint): number => Number(ts - base);

  /** A `startup` fault: a peer SIGSTOPped inside init(), kept frozen a while, then SIGKILLed. */
  const freezeInStartup = async (): Promise<void> => {
    const start = hr();
    const peer = spawnPeer({ mode: 'startup', cycles: 0, runMs: 0 });
    // Wait until it runs init() in a loop (process start and the first connection are slow on a
    // busy machine), then SIGSTOP it: it is almost always inside the DDL transaction then,
    // holding the store's start-up lock.
    const until = Date.now() + 20_000;
    const inits = (): number => readLog(peer.logFile).filter((r) => r.t === 'init').length;
    while (Date.now() < until && !stopping && peer.child.exitCode === null && inits() < 3) await sleep(5);
    await sleep(Math.round(random() * 15));
    if (peer.child.exitCode === null && !stopping) {
      peer.child.kill('SIGSTOP');
      const held = (await admin?.locksHeldBy(peer.appName).catch((e: unknown) => `(locks unknown: ${String(e)})`)) ?? '';
      if (held) progress(`stress: startup fault: frozen peer holds ${held}`);
      await sleep(Math.round(waitInterval * (1 + random() * 1.5)));
    }
    peer.child.kill('SIGKILL');
    await peer.exited;
    faults.push({ kind: 'startup', pid: peer.child.pid ?? -1, start: rel(start), end: rel(hr()) });
  };

  /** SIGSTOPs the slot right after it logged the end of an action; the stop time, or undefined. */
  const stopWhenIdle = async (slot: Slot): Promise<bigint | undefined> => {
    for (let attempt = 0; attempt < 200; attempt++) {
      if (lastRecord(slot.logFile)?.t === 'done') {
        const start = hr();
        if (signal(slot, 'SIGSTOP') === undefined) return undefined;
        // It may have started the next action between the read and the signal: then retry.
        if (lastRecord(slot.logFile)?.t === 'done') return start;
        signal(slot, 'SIGCONT');
      }
      await sleep(2);
    }
    return undefined;
  };

  /** Reads every contender log into the checker's history (the DB part filled in by the caller). */
  const collect = (): { actions: Action[]; blocks: Fault[]; acquisitions: Acquisition[] } => {
    const records: ContenderRecord[] = readdirSync(dir)
      .filter((f) => f.endsWith('.jsonl'))
      .flatMap((f) => readLog(path.join(dir, f)));
    const actions = new Map<string, Action>();
    const blocks: Fault[] = [];
    const acquisitions: Acquisition[] = [];
    for (const r of records) {
      if (r.t === 'acquired') acquisitions.push({ pid: r.pid, token: r.token, ts: rel(BigInt(r.ts)) });
      if (r.t === 'check') {
        actions.set(`${r.pid}:${r.seq}`, { pid: r.pid, token: r.token, seq: r.seq, check: rel(BigInt(r.ts)) });
      } else if (r.t === 'done') {
        const a = actions.get(`${r.pid}:${r.seq}`);
        if (a) {
          a.done = rel(BigInt(r.ts));
          a.outcome = r.outcome;
        }
      } else if (r.t === 'block') {
        blocks.push({ kind: 'block', pid: r.pid, start: rel(BigInt(r.ts)), end: rel(BigInt(r.end)) });
      }
    }
    return { actions: [...actions.values()], blocks, acquisitions };
  };

  /** Resume anything stopped, ask politely, then insist; every death is recorded. */
  const shutdown = async (): Promise<void> => {
    phase('faults done, shutting down');
    stopping = true;
    await startupFault;
    for (const slot of slots) {
      slot.expectExit = true;
      signal(slot, 'SIGCONT');
      signal(slot, 'SIGTERM');
    }
    for (const peer of peers) {
      peer.kill('SIGCONT');
      peer.kill('SIGTERM');
    }
    await Promise.race([Promise.all(slots.map((s) => s.exited)), sleep(5000)]);
    const peersGone = [...peers].map((p) => new Promise<void>((resolve) => (p.exitCode !== null || p.signalCode !== null ? resolve() : p.once('exit', () => resolve()))));
    for (const peer of peers) peer.kill('SIGKILL');
    await Promise.race([Promise.all(peersGone), sleep(5000)]);
    for (const slot of slots) {
      const pid = signal(slot, 'SIGKILL');
      if (pid !== undefined) {
        deaths.push({ pid, ts: hr() });
        await slot.exited;
      }
    }
  };

  /** The run itself: contenders up, faults in, per the scenario. */
  const drive = async (): Promise<void> => {
    admin = await openAdmin(options.store, db);
    await admin.createTables(tables);
    observer = await openStore(options.store, db, tables.lease, { appName: `hcs_${runId}_driver` });
    // Create the lease table before the contenders race to (they may: init is idempotent).
    await observer.store.init();

    const spawnedAt = Date.now();
    for (let i = 0; i < contenders; i++) {
      const slot: Slot = { index: i, incarnation: 0, child: undefined, exited: Promise.resolve(), expectExit: false, logFile: '', outFile: '' };
      slots.push(slot);
      spawnSlot(slot);
    }
    phase('contenders spawned');
    if ((await waitForHolder(60_000)) === undefined) throw new Error(`no contender acquired the lease within 60 s: ${tail(slots[0]?.outFile ?? '')}`);
    phase('first holder');

    if (scenario === 'random') {
      const supported: FaultKind[] = options.store === 'sqlite' ? ['kill', 'stop', 'block', 'lock', 'restart', 'startup'] : ['kill', 'stop', 'block', 'conn', 'lock', 'restart', 'startup'];
      const kinds = options.faultKinds ? supported.filter((k) => options.faultKinds?.includes(k)) : supported;
      const until = options.includeStartup
        ? Math.max(spawnedAt + options.seconds * 1000, Date.now() + (options.minFaultSeconds ?? 8) * 1000)
        : Date.now() + options.seconds * 1000;
      const hardUntil = until + (options.maxExtraSeconds ?? 40) * 1000;
      const enough = (): boolean => tokensSeen.size - 1 >= (options.minTakeovers ?? 0);
      while (Date.now() < until || (!enough() && Date.now() < hardUntil)) {
        await sleep(Math.round(300 + random() * 700));
        const kind = kinds[Math.floor(random() * kinds.length)] ?? 'kill';
        const holder = await holderSlot();
        const onHolder = random() < 0.75 && holder !== undefined;
        const slot = slots[onHolder ? holder : Math.floor(random() * slots.length)];
        if (slot) await inject(kind, slot);
      }
      return;
    }

    const rounds = options.rounds ?? 4;
    await sleep(500);
    for (let round = 0; round < rounds; round++) {
      const h = await waitForHolder(5_000);
      const slot = h === undefined ? undefined : slots[h];
      const pid = slot?.child?.pid;
      if (!slot || pid === undefined) continue;
      // Freeze it between two actions: frozen inside its fenced transaction it would hold the
      // lease row's lock (SQLite: the database's write lock), and no standby could take over.
      const start = await stopWhenIdle(slot);
      if (start === undefined) continue;
      // Wait until another contender took over, and let it serve for a while.
      const next = await waitForHolder(waitInterval * 6, h);
      if (next !== undefined) await sleep(300);
      signal(slot, 'SIGCONT');
      faults.push({ kind: 'stop', pid, start: rel(start), end: rel(hr()) });
      await sleep(waitInterval * 2);
      if (!selfFencing) {
        const { actions } = collect();
        const probe = checkHistory({ actions, faults: [], deaths: [], writes: [], counter: 0 });
        if (probe.violations.some((v) => v.kind === 'overlap')) return;
      }
    }
  };

  try {
    try {
      await drive();
    } finally {
      await shutdown();
    }
    phase('contenders gone');
    const { actions, blocks, acquisitions } = collect();
    const { writes, counter } = (await admin?.readWrites(tables)) ?? { writes: [], counter: 0 };
    const merged = faults.map((f) => {
      if (f.kind !== 'block') return f;
      return blocks.find((b) => b.pid === f.pid && b.start >= f.start) ?? f;
    });
    const result = checkHistory({
      actions,
      acquisitions,
      faults: merged,
      deaths: deaths.map((d) => ({ pid: d.pid, ts: rel(d.ts) })),
      writes,
      counter,
    });
    const header = `stress ${options.store} (${scenario}, self-fencing ${selfFencing ? 'on' : 'OFF'}, seed ${seed}, ${contenders} contenders, update/wait ${updateInterval}/${waitInterval} ms)`;
    let summary = formatSummary(result, header);
    if (options.store !== 'sqlite' && scenario === 'random') summary += `\n  connections killed: ${connectionsKilled}`;
    else if (scenario === 'random') summary += '\n  (conn faults skipped: SQLite has no server connection to kill)';
    if (locks.length > 0) summary += `\n  locks held: ${locks.join('; ')}`;
    if (unexpectedExits.length > 0) summary += `\n  UNEXPECTED EXITS: ${unexpectedExits.length}\n    ${unexpectedExits.join('\n    ')}`;
    return { store: options.store, seed, scenario, selfFencing, result, summary, unexpectedExits, connectionsKilled, locks, tables };
  } finally {
    // Whatever happened above: connections closed, tables dropped, files removed.
    phase('cleaning up');
    await observer?.close().catch(() => undefined);
    await admin?.dropTables(tables).catch(() => undefined);
    await admin?.close().catch(() => undefined);
    // HOTCOLD_STRESS_KEEP=1 keeps the logs for a post-mortem (the tables are dropped regardless).
    if (process.env.HOTCOLD_STRESS_KEEP === '1') progress(`stress: logs kept in ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function tail(file: string, chars = 1500): string {
  try {
    const text = readFileSync(file, 'utf8');
    return text.slice(-chars);
  } catch {
    return '(no output)';
  }
}
