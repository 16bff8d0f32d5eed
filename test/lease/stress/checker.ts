/**
 * The stress suite's safety checker: pure, so it can be tested on synthetic histories.
 *
 * A holder's serving window for token T runs from the moment its `acquire()` resolved with T (or,
 * if that was not logged, its first action's `isValid()` check) to the completion of its last
 * action with T (or its death, if it was killed mid-action). Every logged instant is read on the
 * host's CLOCK_MONOTONIC: an `acquired` instant is read after the takeover committed, a check's
 * instant before `isValid()` ran, so a reported overlap is never an artefact of the logging (it
 * can only miss one). The rules:
 *
 * 1. No overlap: a holder must not decide to act (an `isValid()` = true check) once another
 *    holder's window has started, i.e. once another holder's takeover has committed. Self-fencing promises exactly this: the check passes only
 *    before the holder's deadline, which ends before any standby can take over.
 * 2. An action that was already in flight when the next holder started (a pause or a slow
 *    database between the check and the commit: no local check can prevent that) is the
 *    fencing token's job: its write must have been rejected, or committed before every write of
 *    the next token. Such actions are counted, not failed; rule 5 checks the commit order.
 * 3. Tokens strictly increase across successive windows, and a token belongs to one process.
 * 4. Every accepted write carried the lease's current token at commit time.
 * 5. Accepted writes, in commit order, never go back to an older token.
 * 6. The shared counter equals the number of accepted writes, and the writers' logs agree with
 *    the database (no write logged as accepted is missing, none logged as rejected is present).
 */
import type { ActionOutcome } from './log.js';

/** All times are nanoseconds on the host's CLOCK_MONOTONIC, relative to any common origin. */
export interface Action {
  pid: number;
  token: number;
  seq: number;
  /** Read just before `isValid()` returned true. */
  check: number;
  /** Completion; absent if the process died or the run ended mid-action. */
  done?: number | undefined;
  outcome?: ActionOutcome | undefined;
}

/**
 * `kill`/`stop`: SIGKILL/SIGSTOP a contender; `block`: its event loop spins; `conn`: its database
 * connections are killed; `lock`: another session holds locks on the lease row or table for a
 * while; `restart`: a standby process starts, creates the tables, runs an engine briefly and stops,
 * several times; `startup`: a process is SIGSTOPped inside start-up (`init()`), then killed.
 */
export type FaultKind = 'kill' | 'stop' | 'block' | 'conn' | 'lock' | 'restart' | 'startup';
export const FAULT_KINDS: readonly FaultKind[] = ['kill', 'stop', 'block', 'conn', 'lock', 'restart', 'startup'];

export interface Fault {
  kind: FaultKind;
  pid: number;
  start: number;
  end: number;
}

/** A row of the writes table: `leaseToken` is the lease row's token read in the same transaction. */
export interface DbWrite {
  id: number;
  token: number;
  pid: number;
  seq: number;
  leaseToken: number;
}

/** `acquire()` resolved with `token` in process `pid` at `ts` (after the takeover committed). */
export interface Acquisition {
  pid: number;
  token: number;
  ts: number;
}

export interface History {
  actions: readonly Action[];
  /** Optional: without them a window starts at its first check. */
  acquisitions?: readonly Acquisition[];
  faults: readonly Fault[];
  /** When a process died (SIGKILL by the driver, fault or shutdown). */
  deaths: readonly { pid: number; ts: number }[];
  writes: readonly DbWrite[];
  counter: number;
}

export type ViolationKind =
  | 'overlap'
  | 'token-order'
  | 'token-shared'
  | 'stale-write'
  | 'write-order'
  | 'counter'
  | 'lost-write'
  | 'phantom-write';

export interface Violation {
  kind: ViolationKind;
  message: string;
}

export interface ServingWindow {
  token: number;
  pid: number;
  start: number;
  lastCheck: number;
  end: number;
  actions: number;
}

export interface CheckResult {
  windows: ServingWindow[];
  takeovers: number;
  faults: Record<FaultKind, number>;
  actions: number;
  acceptedWrites: number;
  rejectedStaleWrites: number;
  erroredActions: number;
  /** Actions whose check preceded the next holder's start but which completed after it (rule 2). */
  inFlightAtTakeover: number;
  violations: Violation[];
}

const ms = (ns: number): string => `${(ns / 1e6).toFixed(3)} ms`;

export function checkHistory(history: History): CheckResult {
  const violations: Violation[] = [];
  const deathOf = new Map<number, number>();
  for (const d of history.deaths) {
    const prev = deathOf.get(d.pid);
    if (prev === undefined || d.ts < prev) deathOf.set(d.pid, d.ts);
  }
  // An action that never logged completion ended when its process died; with no known death,
  // assume it ran to the end of the history (the conservative choice for overlap).
  let horizon = 0;
  for (const a of history.actions) horizon = Math.max(horizon, a.check, a.done ?? 0);
  for (const d of history.deaths) horizon = Math.max(horizon, d.ts);
  const endOf = (a: Action): number => a.done ?? deathOf.get(a.pid) ?? horizon;

  // Windows, one per token (rule 3: and one process per token).
  const byToken = new Map<number, Action[]>();
  for (const a of history.actions) {
    const list = byToken.get(a.token);
    if (list) list.push(a);
    else byToken.set(a.token, [a]);
  }
  const acquiredAt = new Map<number, Acquisition>();
  for (const acq of history.acquisitions ?? []) {
    const prev = acquiredAt.get(acq.token);
    if (prev && prev.pid !== acq.pid) {
      violations.push({ kind: 'token-shared', message: `token ${acq.token} was acquired by processes ${prev.pid} and ${acq.pid}` });
    }
    if (!prev || acq.ts < prev.ts) acquiredAt.set(acq.token, acq);
    if (!byToken.has(acq.token)) byToken.set(acq.token, []);
  }
  const windows: ServingWindow[] = [];
  const actionsOf = new Map<number, Action[]>();
  for (const [token, list] of byToken) {
    const pids = [...new Set(list.map((a) => a.pid))];
    if (pids.length > 1) {
      violations.push({ kind: 'token-shared', message: `token ${token} was used by processes ${pids.join(', ')}` });
    }
    const acq = acquiredAt.get(token);
    if (acq && pids.length > 0 && !pids.includes(acq.pid)) {
      violations.push({ kind: 'token-shared', message: `token ${token} was acquired by pid ${acq.pid} but used by ${pids.join(', ')}` });
    }
    let start = acq?.ts ?? Infinity;
    let lastCheck = -Infinity;
    let end = acq?.ts ?? -Infinity;
    for (const a of list) {
      start = Math.min(start, a.check);
      lastCheck = Math.max(lastCheck, a.check);
      end = Math.max(end, endOf(a));
    }
    windows.push({ token, pid: list[0]?.pid ?? acq?.pid ?? -1, start, lastCheck, end, actions: list.length });
    actionsOf.set(token, list);
  }
  windows.sort((x, y) => x.start - y.start || x.token - y.token);

  // Rules 1–3 over every pair: windows are few (one per takeover), so quadratic is fine.
  let inFlightAtTakeover = 0;
  for (let i = 0; i < windows.length; i++) {
    const a = windows[i]!;
    const next = windows[i + 1];
    if (next && next.token <= a.token) {
      violations.push({
        kind: 'token-order',
        message: `token ${next.token} (pid ${next.pid}) started serving after token ${a.token} (pid ${a.pid}): tokens must strictly increase`,
      });
    }
    for (let j = i + 1; j < windows.length; j++) {
      const b = windows[j]!;
      if (a.lastCheck >= b.start) {
        violations.push({
          kind: 'overlap',
          message:
            `pid ${a.pid} (token ${a.token}) passed isValid() at +${ms(a.lastCheck - b.start)} into the window of ` +
            `pid ${b.pid} (token ${b.token}): two holders served at once`,
        });
      } else if (a.end > b.start) {
        for (const act of actionsOf.get(a.token) ?? []) {
          if (act.check < b.start && endOf(act) > b.start) inFlightAtTakeover++;
        }
      }
    }
  }

  // Rules 4–6: the database's side.
  const writes = [...history.writes].sort((x, y) => x.id - y.id);
  let highest = -Infinity;
  const seen = new Set<string>();
  const actionByKey = new Map<string, Action>();
  for (const a of history.actions) actionByKey.set(`${a.pid}:${a.seq}`, a);
  for (const w of writes) {
    if (w.token !== w.leaseToken) {
      violations.push({
        kind: 'stale-write',
        message: `write #${w.id} (pid ${w.pid}, seq ${w.seq}) was accepted with token ${w.token} while the lease's token was ${w.leaseToken}`,
      });
    }
    if (w.token < highest) {
      violations.push({
        kind: 'write-order',
        message: `write #${w.id} with token ${w.token} was committed after a write with token ${highest}`,
      });
    }
    highest = Math.max(highest, w.token);
    const key = `${w.pid}:${w.seq}`;
    if (seen.has(key)) {
      violations.push({ kind: 'phantom-write', message: `write pid ${w.pid} seq ${w.seq} is in the table twice` });
    }
    seen.add(key);
    const act = actionByKey.get(key);
    if (!act) {
      violations.push({ kind: 'phantom-write', message: `write #${w.id} (pid ${w.pid}, seq ${w.seq}) has no logged action` });
    } else if (act.token !== w.token) {
      violations.push({
        kind: 'phantom-write',
        message: `write #${w.id} carries token ${w.token} but its action was logged with token ${act.token}`,
      });
    } else if (act.outcome === 'rejected') {
      violations.push({
        kind: 'phantom-write',
        message: `write #${w.id} (pid ${w.pid}, seq ${w.seq}) is in the table although the fence rejected it`,
      });
    }
  }
  for (const a of history.actions) {
    if (a.outcome === 'accepted' && !seen.has(`${a.pid}:${a.seq}`)) {
      violations.push({ kind: 'lost-write', message: `pid ${a.pid} seq ${a.seq} committed but its write is missing` });
    }
  }
  if (history.counter !== writes.length) {
    violations.push({
      kind: 'counter',
      message: `the counter is ${history.counter} but ${writes.length} writes were accepted`,
    });
  }

  const faults = Object.fromEntries(FAULT_KINDS.map((k) => [k, 0])) as Record<FaultKind, number>;
  for (const f of history.faults) faults[f.kind]++;
  return {
    windows,
    takeovers: Math.max(0, windows.length - 1),
    faults,
    actions: history.actions.length,
    acceptedWrites: writes.length,
    rejectedStaleWrites: history.actions.filter((a) => a.outcome === 'rejected').length,
    erroredActions: history.actions.filter((a) => a.outcome === 'error').length,
    inFlightAtTakeover,
    violations,
  };
}

/** The summary the suite prints, one fact per line. */
export function formatSummary(result: CheckResult, header: string): string {
  const f = result.faults;
  const count = (kind: ViolationKind): number => result.violations.filter((v) => v.kind === kind).length;
  const lines = [
    header,
    `  windows: ${result.windows.length}   takeovers: ${result.takeovers}`,
    `  faults injected: kill ${f.kill}, stop ${f.stop}, block ${f.block}, conn ${f.conn}, lock ${f.lock}, restart ${f.restart}, startup ${f.startup}`,
    `  actions: ${result.actions}   accepted writes: ${result.acceptedWrites}   rejected stale writes: ${result.rejectedStaleWrites}   errored: ${result.erroredActions}`,
    `  in flight at a takeover (settled by the DB fence): ${result.inFlightAtTakeover}`,
    `  DB fence: stale writes accepted ${count('stale-write')}, out of token order ${count('write-order')}, counter ${count('counter') === 0 ? 'matches' : 'MISMATCH'}`,
    `  violations: ${result.violations.length}`,
  ];
  const shown = result.violations.slice(0, 10);
  for (const v of shown) lines.push(`    [${v.kind}] ${v.message}`);
  if (result.violations.length > shown.length) lines.push(`    … and ${result.violations.length - shown.length} more`);
  return lines.join('\n');
}
