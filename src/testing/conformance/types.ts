/** Shapes of the conformance kit (docs/wire.md §12). */
// Imported for the {@link runConformance} references in TSDoc (typedoc resolves them through it).
// eslint-disable-next-line @typescript-eslint/no-unused-vars
import type { runConformance } from './run.js';

/** Options of {@link runConformance}. */
export interface ConformanceOptions {
  /**
   * Base URL of a second node of the same deployment that is a standby right now (same shared
   * database, not holding the lease). Without it the `standby.*` checks are skipped.
   */
  standbyUrl?: string | undefined;
  /** @default '/rpc' */
  rpcPath?: string | undefined;
  /** @default '/health' */
  healthPath?: string | undefined;
  /**
   * Headers sent on every request (e.g. `Authorization` when the server requires it). The
   * hotcold headers (`Idempotency-Key`, `X-Hotcold-*`) are set by each check and cannot be given here.
   */
  headers?: Record<string, string> | undefined;
  /**
   * Two header sets that identify two DIFFERENT callers to the server, for the check that an
   * `Idempotency-Key` is bound to its caller. Merged over `headers`.
   * @default [{ authorization: 'Bearer hotcold-conformance-caller-a' }, { authorization: 'Bearer hotcold-conformance-caller-b' }]
   */
  callers?: readonly [Record<string, string>, Record<string, string>] | undefined;
  /**
   * Whether the server claims to deduplicate by `Idempotency-Key` (`X-Hotcold-Dedup: 1`). With
   * `false` the `dedup.*` checks are skipped and `dedup.advertised` checks that no answer claims it.
   * @default true
   */
  dedup?: boolean | undefined;
  /**
   * Whether the server serves resumable feeds (`hotcold.feed`); `false` skips the `feed.*` checks.
   * @default true
   */
  feeds?: boolean | undefined;
  /**
   * Longest wait for one answer (ms); a server that does not answer within it fails the check.
   * @default 10000
   */
  requestTimeoutMs?: number | undefined;
  /**
   * How long `timeout.mid-call` asks its call to run (ms); the call's own deadline is far
   * shorter, so a conforming server answers `EXPIRED` long before. Must be below the server's
   * own statement and idle-transaction bounds.
   * @default 3000
   */
  midCallSleepMs?: number | undefined;
  /** Ends the run early: the remaining checks are reported as failed ("aborted"). */
  signal?: AbortSignal | undefined;
}

/** `pass`, `fail`, or `skip` (the check needs an option that was not given, e.g. `standbyUrl`). */
export type ConformanceOutcome = 'pass' | 'fail' | 'skip';

/** One check's verdict. */
export interface ConformanceResult {
  /** Stable check id, e.g. `dedup.repeat`. */
  id: string;
  /** The requirement checked, with its section of docs/wire.md. */
  requirement: string;
  /** `pass`, `fail`, or `skip`: not run here (e.g. it needs a standby URL); `detail` says why. */
  outcome: ConformanceOutcome;
  /** `outcome !== 'fail'`. */
  pass: boolean;
  /** What was observed (on failure: what differed from the requirement). */
  detail: string;
}

/** What {@link runConformance} found. */
export interface ConformanceReport {
  /** The server checked (credentials in the URL removed). */
  url: string;
  /** The standby checked, if one was given (credentials removed). */
  standbyUrl: string | undefined;
  /** One per check, in the order they ran. */
  results: ConformanceResult[];
  /** Checks with outcome `pass`. */
  passed: number;
  /** Checks with outcome `fail`. */
  failed: number;
  /** Checks with outcome `skip`. */
  skipped: number;
  /** No check failed. */
  ok: boolean;
}
