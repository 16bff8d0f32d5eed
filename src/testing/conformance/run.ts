import { ConfigurationError } from '../../errors.js';
import { rejectUnknownKeys, requireBoolean, requireHeaderText, requireHttpUrl, requireObject, requirePositiveInteger } from '../../shared/validate.js';
import { redactUrl } from '../../shared/redact.js';
import { CLIENT_SET_HEADERS, DEFAULT_HEALTH_PATH, DEFAULT_RPC_PATH } from '../../wire.js';
import type { Check } from './check.js';
import { basicChecks, everyAnswerChecks } from './checks-basic.js';
import { dedupChecks } from './checks-dedup.js';
import { feedChecks } from './checks-feeds.js';
import { standbyChecks } from './checks-standby.js';
import { midCallTimeoutChecks, timeoutChecks } from './checks-timeout.js';
import { CheckFailed, Probe, type ProbeSettings } from './probe.js';
import type { ConformanceOptions, ConformanceReport, ConformanceResult } from './types.js';

/**
 * Every check, in the order they run. The order matters in two places: `health.active` first
 * (it learns the node's identity), and `timeout.mid-call` after everything that needs the
 * server's database (a server that ignores the caller's time keeps that call open).
 */
export const CONFORMANCE_CHECKS: readonly Check[] = [
  ...basicChecks,
  ...dedupChecks,
  ...timeoutChecks,
  ...feedChecks,
  ...standbyChecks,
  ...midCallTimeoutChecks,
  ...everyAnswerChecks,
];

const KNOWN = ['standbyUrl', 'rpcPath', 'healthPath', 'headers', 'callers', 'dedup', 'feeds', 'requestTimeoutMs', 'midCallSleepMs', 'signal'] as const;
/** Headers each check sets itself; given in `headers` they would corrupt the checks. */
const RESERVED_HEADERS: ReadonlySet<string> = new Set([...CLIENT_SET_HEADERS, 'content-length', 'content-type', 'host']);

function requireBaseUrl(field: string, value: unknown): string {
  const url = requireHttpUrl(field, value);
  if (url.search !== '' || url.hash !== '') throw new ConfigurationError(field, 'must not have a query or fragment');
  return String(value).replace(/\/+$/, '');
}

function requirePath(field: string, value: unknown, fallback: string): string {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !value.startsWith('/') || /[\s?#]/.test(value)) throw new ConfigurationError(field, "must be a path starting with '/', without query or spaces");
  return value;
}

function requireHeaders(field: string, value: unknown): Record<string, string> {
  const object = requireObject(field, value);
  const out: Record<string, string> = {};
  for (const [name, v] of Object.entries(object)) {
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) throw new ConfigurationError(`${field}.${name}`, 'is not a valid header name');
    // Checked here, or every request of the run failed in the kit (ERR_INVALID_CHAR) and each check
    // was reported as the server's failure.
    const text = requireHeaderText(v, `${field}.${name}`);
    if (RESERVED_HEADERS.has(name.toLowerCase())) throw new ConfigurationError(`${field}.${name}`, 'is set by the checks themselves');
    out[name.toLowerCase()] = text;
  }
  return out;
}

function resolve(url: unknown, options: ConformanceOptions): ProbeSettings {
  const o = requireObject('options', options);
  rejectUnknownKeys('', o, KNOWN);
  const base = requireBaseUrl('url', url);
  const headers = options.headers === undefined ? {} : requireHeaders('headers', options.headers);
  let callers: ProbeSettings['callers'] = [{ authorization: 'Bearer hotcold-conformance-caller-a' }, { authorization: 'Bearer hotcold-conformance-caller-b' }];
  if (options.callers !== undefined) {
    if (!Array.isArray(options.callers) || options.callers.length !== 2) throw new ConfigurationError('callers', 'must be two header sets, one per caller');
    callers = [requireHeaders('callers[0]', options.callers[0]), requireHeaders('callers[1]', options.callers[1])];
  }
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw new ConfigurationError('signal', 'must be an AbortSignal');
  return {
    url: base,
    standbyUrl: options.standbyUrl === undefined ? undefined : requireBaseUrl('standbyUrl', options.standbyUrl),
    rpcPath: requirePath('rpcPath', options.rpcPath, DEFAULT_RPC_PATH),
    healthPath: requirePath('healthPath', options.healthPath, DEFAULT_HEALTH_PATH),
    headers,
    callers,
    dedup: options.dedup === undefined ? true : requireBoolean('dedup', options.dedup),
    feeds: options.feeds === undefined ? true : requireBoolean('feeds', options.feeds),
    requestTimeoutMs: options.requestTimeoutMs === undefined ? 10_000 : requirePositiveInteger('requestTimeoutMs', options.requestTimeoutMs),
    midCallSleepMs: options.midCallSleepMs === undefined ? 3000 : requirePositiveInteger('midCallSleepMs', options.midCallSleepMs),
    signal: options.signal,
  };
}

/**
 * Drives a running server through the wire spec (docs/wire.md) and reports, per requirement,
 * whether it holds. The server must expose the conformance methods of docs/wire.md §11 (the
 * reference node: register `conformanceApp().handlers`). The checks call the server, never
 * change its configuration, and use names unique to the run (counters, keys, feeds).
 *
 * Never rejects for what the server does: an unreachable server fails every check.
 *
 * @param url base URL of the ACTIVE node (or of the balancer in front of the pair), e.g. `http://127.0.0.1:8080`
 * @param options see {@link ConformanceOptions}
 * @returns one result per check (`pass`, `fail` or `skip`) and the totals; `ok` when none failed
 * @throws ConfigurationError when `url` or an option is invalid (naming the field)
 * @example
 * ```ts
 * import { runConformance } from 'hotcold/testing';
 *
 * const report = await runConformance('http://127.0.0.1:8080', { standbyUrl: 'http://127.0.0.1:8081' });
 * for (const r of report.results) console.log(r.outcome, r.id, r.detail);
 * ```
 */
export async function runConformance(url: string, options: ConformanceOptions = {}): Promise<ConformanceReport> {
  const settings = resolve(url, options);
  const probe = new Probe(settings);
  const results: ConformanceResult[] = [];
  // Set when the server never answered at all: the remaining checks are not run (a server that
  // swallows connections would otherwise cost one request timeout per check).
  let unreachable: string | undefined;
  for (const check of CONFORMANCE_CHECKS) {
    const skipped = check.skip?.(settings);
    if (skipped !== undefined) {
      results.push({ id: check.id, requirement: check.requirement, outcome: 'skip', pass: true, detail: skipped });
      continue;
    }
    if (unreachable !== undefined) {
      results.push({ id: check.id, requirement: check.requirement, outcome: 'fail', pass: false, detail: `not run: ${unreachable}` });
      continue;
    }
    try {
      const detail = await check.run(probe);
      results.push({ id: check.id, requirement: check.requirement, outcome: 'pass', pass: true, detail });
    } catch (error) {
      const detail = error instanceof CheckFailed ? error.message : `error: ${error instanceof Error ? error.message : String(error)}`;
      results.push({ id: check.id, requirement: check.requirement, outcome: 'fail', pass: false, detail });
      if (!(error instanceof CheckFailed) && probe.answers.length === 0) unreachable = `the server did not answer (${detail})`;
    }
  }
  const count = (outcome: ConformanceResult['outcome']): number => results.filter((r) => r.outcome === outcome).length;
  const failed = count('fail');
  return {
    url: redactUrl(settings.url).replace(/\/$/, ''),
    standbyUrl: settings.standbyUrl === undefined ? undefined : redactUrl(settings.standbyUrl).replace(/\/$/, ''),
    results, passed: count('pass'), failed, skipped: count('skip'), ok: failed === 0 };
}
