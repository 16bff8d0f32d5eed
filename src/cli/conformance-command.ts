/**
 * `hotcold conformance <url>`: drives a running server through the wire spec (docs/wire.md) with
 * the conformance kit of `hotcold/testing` and prints a pass/fail table. Exit code 0 when every
 * check passed (or was skipped), 1 when one failed, 2 on a usage error. Flags: CONFORMANCE_FLAGS
 * (`hotcold conformance --help` lists them with their defaults).
 */
import { ConfigurationError } from '../errors.js';
import { MAX_TIMER_DELAY_MS } from '../shared/timer.js';
import { asFlagError, formatHelp, HELP_FLAG, integerFlag, parseFlags, type FlagSpecs } from './flags.js';
import { formatConformanceReport, runConformance, type ConformanceOptions } from '../testing/conformance/index.js';

/** The flags of `hotcold conformance`. */
export const CONFORMANCE_FLAGS = {
  standby: { type: 'string', value: 'URL', description: 'a standby node of the same deployment: also check NOT_ACTIVE answers (without it the standby.* checks are skipped)', default: 'none' },
  header: { type: 'string', value: "'Name: value'", multiple: true, description: 'sent on every request, e.g. an Authorization the server requires (repeatable)', default: 'none' },
  caller: { type: 'string', value: "'Name: value'", multiple: true, description: 'a header identifying one caller; give it twice, for two different callers', default: "two distinct 'Authorization: Bearer …' values" },
  'rpc-path': { type: 'string', value: 'PATH', description: 'the JSON-RPC path', default: '/rpc' },
  'health-path': { type: 'string', value: 'PATH', description: 'the health path', default: '/health' },
  'no-dedup': { type: 'boolean', description: 'the server does not deduplicate: skip the dedup.* checks and check that no answer claims X-Hotcold-Dedup', default: 'dedup expected' },
  'no-feeds': { type: 'boolean', description: 'the server serves no hotcold.feed: skip the feed.* checks', default: 'feeds expected' },
  timeout: { type: 'string', value: 'MS', description: 'longest wait for one answer', default: '10000' },
  'mid-call-ms': { type: 'string', value: 'MS', description: 'how long the timeout.mid-call check asks its call to run', default: '3000' },
  json: { type: 'boolean', description: 'print the report as JSON instead of the table', default: 'off' },
  help: HELP_FLAG,
} as const satisfies FlagSpecs;

export const CONFORMANCE_HELP = `${formatHelp(
  'usage: hotcold conformance <url> [options]',
  CONFORMANCE_FLAGS,
  `Checks that the server at <url> (the active node, or the balancer in front of the pair) speaks
the hotcold wire contract (docs/wire.md). The server must expose the conformance methods of
docs/wire.md §11 (reference node: register conformanceApp().handlers from hotcold/testing, or run
hotcold node --app conformance).`,
)}

Exit code: 0 all checks passed or were skipped, 1 a check failed, 2 usage error, 130 interrupted
(SIGINT/SIGTERM: no verdict, no table; with --json, the partial report with "interrupted").`;

/** The exit code of a run cut short by SIGINT or SIGTERM (as the demo's). */
const INTERRUPTED = 130;

/** The option each flag sets, as runConformance names it in a ConfigurationError. */
const CONFORMANCE_FLAG_OF: Readonly<Record<string, string>> = {
  standbyUrl: '--standby',
  headers: '--header',
  callers: '--caller',
  rpcPath: '--rpc-path',
  healthPath: '--health-path',
  requestTimeoutMs: '--timeout',
  midCallSleepMs: '--mid-call-ms',
};

/** Parses `Name: value` into a header entry. */
function headerFlag(field: string, text: string): [string, string] {
  const colon = text.indexOf(':');
  if (colon <= 0) throw new ConfigurationError(field, "expected 'Name: value' (the value is not repeated here: it may be a credential)");
  return [text.slice(0, colon).trim(), text.slice(colon + 1).trim()];
}

function headerSet(field: string, values: readonly string[]): Record<string, string> {
  return Object.fromEntries(values.map((v) => headerFlag(field, v)));
}

/** Parses argv into the URL and the kit's options, or `'help'`. */
export function parseConformanceArgs(argv: string[]): { url: string; options: ConformanceOptions; json: boolean } | 'help' {
  const { values, positionals } = parseFlags(CONFORMANCE_FLAGS, argv, { positionals: true });
  if (values.help === true) return 'help';
  if (positionals.length !== 1) throw new ConfigurationError('url', positionals.length === 0 ? 'is required: hotcold conformance <url>' : 'only one URL may be given (use --standby for the second node)');
  const options: ConformanceOptions = {};
  if (values.standby !== undefined) options.standbyUrl = values.standby;
  if (values.header !== undefined) options.headers = headerSet('--header', values.header);
  if (values.caller !== undefined) {
    if (values.caller.length !== 2) throw new ConfigurationError('--caller', 'give it exactly twice, one header per caller');
    options.callers = [headerSet('--caller', [values.caller[0] ?? '']), headerSet('--caller', [values.caller[1] ?? ''])];
  }
  if (values['rpc-path'] !== undefined) options.rpcPath = values['rpc-path'];
  if (values['health-path'] !== undefined) options.healthPath = values['health-path'];
  if (values['no-dedup'] === true) options.dedup = false;
  if (values['no-feeds'] === true) options.feeds = false;
  if (values.timeout !== undefined) options.requestTimeoutMs = integerFlag('--timeout', values.timeout, { min: 1, max: MAX_TIMER_DELAY_MS });
  if (values['mid-call-ms'] !== undefined) options.midCallSleepMs = integerFlag('--mid-call-ms', values['mid-call-ms'], { min: 1, max: MAX_TIMER_DELAY_MS });
  return { url: positionals[0] ?? '', options, json: values.json === true };
}

export async function runConformanceCommand(argv: string[]): Promise<number> {
  const args = parseConformanceArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${CONFORMANCE_HELP}\n`);
    return 0;
  }
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupted ??= signal;
    controller.abort();
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const report = await runConformance(args.url, { ...args.options, signal: controller.signal }).catch((error: unknown) => {
      // The kit names its options (rpcPath, standbyUrl); the operator typed flags.
      throw asFlagError(error, CONFORMANCE_FLAG_OF);
    });
    if (interrupted !== undefined) {
      // The checks the signal cut short are reported as failed by the kit: that is no verdict on
      // the server, and must not read as one (exit 1, "DOES NOT CONFORM") to a script.
      if (args.json) process.stdout.write(`${JSON.stringify({ ...report, ok: false, interrupted }, null, 2)}\n`);
      process.stderr.write(`hotcold conformance: interrupted (${interrupted}): no verdict on the server\n`);
      return INTERRUPTED;
    }
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatConformanceReport(report));
    return report.ok ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
