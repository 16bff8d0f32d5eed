import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { lastRecord, LogWriter, now, readLog } from './log.js';

describe('stress log format', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const file = (): string => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hotcold-stress-log-'));
    dirs.push(dir);
    return path.join(dir, 'c.jsonl');
  };

  it('round-trips records and ignores a line torn by a SIGKILL mid-write', () => {
    const f = file();
    const log = new LogWriter(f);
    log.write({ t: 'start', pid: 1, slot: 0, ts: now() });
    log.write({ t: 'check', pid: 1, token: 3, seq: 1, ts: now() });
    log.write({ t: 'done', pid: 1, token: 3, seq: 1, ts: now(), outcome: 'accepted' });
    log.close();
    appendFileSync(f, '{"t":"check","pid":1,"tok');
    const records = readLog(f);
    expect(records.map((r) => r.t)).toEqual(['start', 'check', 'done']);
    expect(lastRecord(f)?.t).toBe('done');
    // Timestamps are CLOCK_MONOTONIC nanoseconds as decimal strings, increasing.
    const [a, b] = records.map((r) => BigInt(r.ts));
    expect(b! >= a!).toBe(true);
  });

  it('reads a missing log as empty', () => {
    expect(readLog(path.join(os.tmpdir(), 'no-such-hotcold-log.jsonl'))).toEqual([]);
    expect(lastRecord(path.join(os.tmpdir(), 'no-such-hotcold-log.jsonl'))).toBeUndefined();
  });
});
