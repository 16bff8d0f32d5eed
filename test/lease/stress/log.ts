/**
 * The stress suite's log format: one JSON object per line, one file per contender process.
 *
 * Every timestamp is `process.hrtime.bigint()` as a decimal string: CLOCK_MONOTONIC, one clock
 * for every process on the host, so the checker can put all processes' events on one line.
 * Lines are written with a synchronous write before the action they announce: page-cache data
 * survives SIGKILL of the writer, so a killed contender loses at most the end of the action it
 * was in (the driver's kill time stands in for it).
 */
import { closeSync, fstatSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';

export type ContenderRecord =
  /** Process up; `slot` is the contender's index (stable across restarts). */
  | { t: 'start'; pid: number; slot: number; ts: string }
  /** A database connection this process opened (MariaDB thread id), so the driver can KILL it. */
  | { t: 'conn'; pid: number; id: number; ts: string }
  | { t: 'acquired'; pid: number; token: number; ts: string }
  /**
   * `held.isValid()` returned true and action `seq` starts now. `ts` is read *before* the call:
   * the true decision instant is no earlier, so a stale holder's check is never logged late.
   */
  | { t: 'check'; pid: number; token: number; seq: number; ts: string }
  /** Action `seq` finished: committed, rejected by the fence, or failed otherwise. */
  | { t: 'done'; pid: number; token: number; seq: number; ts: string; outcome: ActionOutcome; error?: string }
  /**
   * `isValid()` returned true, with no action (the replication test's contenders probe it every
   * 10 ms while they hold, also while an action hangs on a dead server). `ts` is read before the call.
   */
  | { t: 'valid'; pid: number; token: number; ts: string }
  /** `isValid()` returned false: the holder fenced itself. */
  | { t: 'fenced'; pid: number; token: number; ts: string }
  | { t: 'lost'; pid: number; token: number; ts: string; reason: string }
  /** The event loop was blocked on purpose (fault injection), from `ts` to `end`. */
  | { t: 'block'; pid: number; ts: string; end: string }
  /** A stress peer (peer.ts) is about to run `init()`: start-up is in progress from here. */
  | { t: 'init'; pid: number; ts: string }
  | { t: 'exit'; pid: number; ts: string };

/** `error`: the outcome is unknown (e.g. the connection died around COMMIT). */
export type ActionOutcome = 'accepted' | 'rejected' | 'error';

export function now(): string {
  return process.hrtime.bigint().toString();
}

/** Appends records synchronously; one `write(2)` per record. */
export class LogWriter {
  private fd: number | undefined;
  constructor(file: string) {
    this.fd = openSync(file, 'a');
  }
  write(record: ContenderRecord): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(record)}\n`);
  }
  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/** Reads a log; a torn last line (writer killed mid-write) is ignored. */
export function readLog(file: string): ContenderRecord[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const out: ContenderRecord[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    try {
      out.push(JSON.parse(line) as ContenderRecord);
    } catch {
      // Only the very last line can be torn; anything else would be a bug worth seeing.
    }
  }
  return out;
}

/** The last complete record of a log (reads only its tail), or undefined. */
export function lastRecord(file: string): ContenderRecord | undefined {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return undefined;
  }
  try {
    const size = fstatSync(fd).size;
    const length = Math.min(size, 4096);
    const buffer = Buffer.alloc(length);
    readSync(fd, buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n').filter((l) => l.trim() !== '');
    for (let i = lines.length - 1; i >= 0; i--) {
      try {
        return JSON.parse(lines[i] ?? '') as ContenderRecord;
      } catch {
        // torn or cut line: try the one before
      }
    }
    return undefined;
  } finally {
    closeSync(fd);
  }
}
