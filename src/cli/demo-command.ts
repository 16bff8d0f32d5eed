/**
 * `hotcold demo`: two `hotcold node` processes on one lease database, a balancer, a client under
 * keyed non-idempotent load; then the hot node is killed (or drained with --planned) while a
 * live status line shows the client riding through, and a summary table (or --json) tells
 * whether anything was lost or done twice. Exit code 1 if it was.
 */
import { createPostgresDatabase, createSqliteDatabase, type RunDatabase } from './demo/database.js';
import { findHaproxy, HaproxyNotInstalledError } from './demo/haproxy.js';
import { formatStatusLine, formatSummaryTable, roundedSummary, type LiveStatus } from './demo/report.js';
import { runScenario } from './demo/scenario.js';
import { parseDemoArgs, DEMO_USAGE } from './demo/demo-args.js';
import { checkReportPath, writeFailoverReport } from './demo/write-report.js';
import { watchOutput } from './output.js';

export async function runDemoCommand(argv: string[]): Promise<number> {
  const args = parseDemoArgs(argv);
  if (args.help) {
    process.stdout.write(`${DEMO_USAGE}\n`);
    return 0;
  }
  if (args.lb === 'haproxy' && !findHaproxy()) throw new HaproxyNotInstalledError();
  if (args.report !== undefined) await checkReportPath(args.report);

  // With --json, stdout carries the JSON only; progress goes to stderr.
  const out = args.json ? process.stderr : process.stdout;
  const tty = out.isTTY === true;
  const say = (message: string): void => {
    if (tty && drawn) out.write('\r\x1b[2K');
    drawn = false;
    out.write(`${message}\n`);
  };
  let drawn = false;
  let lastPlain = 0;
  const onStatus = (status: LiveStatus): void => {
    const line = formatStatusLine(status);
    if (tty) {
      out.write(`\r\x1b[2K${line}`);
      drawn = true;
    } else if (status.elapsedMs - lastPlain >= 1000 || status.phase === 'stopping') {
      // Not a terminal: a plain line a second, so logs stay readable.
      lastPlain = status.elapsedMs;
      out.write(`${line}\n`);
    }
  };

  const abort = new AbortController();
  let interrupted = false;
  const onSignal = (): void => {
    if (interrupted) process.exit(130); // second Ctrl-C: children are killed by the exit hook
    interrupted = true;
    say('interrupted: stopping the nodes and cleaning up...');
    abort.abort(new Error('interrupted'));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // A reader of the output that went away (`hotcold demo | head`) ends the run as Ctrl-C does:
  // the nodes are stopped and the temp folder removed, not left behind by a crash on EPIPE.
  const stdoutClosed = watchOutput();
  const onStdoutClosed = (): void => {
    if (interrupted) return;
    interrupted = true;
    abort.abort(new Error('stdout was closed'));
  };
  stdoutClosed.addEventListener('abort', onStdoutClosed, { once: true });

  let db: RunDatabase | undefined;
  try {
    db = args.db === undefined ? await createSqliteDatabase() : await createPostgresDatabase(args.db);
    say(`hotcold demo: ${args.planned ? 'planned switchover' : 'crash failover'}, lease database ${db.kind} (${db.display}), ${args.lb === 'haproxy' ? 'HAProxy' : 'dev balancer'}, ${args.callers} concurrent callers of transfer`);
    const result = await runScenario({
      scenario: args.planned ? 'planned' : 'crash',
      db,
      lb: args.lb,
      callers: args.callers,
      warmupMs: args.warmupMs,
      afterMs: args.afterMs,
      onStatus,
      statusIntervalMs: tty ? 100 : 250,
      onLog: (message) => say(`* ${message}`),
      signal: abort.signal,
    });
    if (tty && drawn) out.write('\n');
    drawn = false;
    const { summary } = result;
    if (args.report !== undefined) say(`* report written to ${await writeFailoverReport(args.report, summary, result.timeline)}`);
    if (args.json) {
      process.stdout.write(`${JSON.stringify(roundedSummary(summary))}\n`);
    } else {
      process.stdout.write(`\n${formatSummaryTable(summary)}\n`);
    }
    if (!summary.ok) {
      process.stderr.write(`hotcold demo: FAILED: ${summary.lost} lost, ${summary.duplicates} duplicated, ${summary.misclassified} misclassified\n`);
      return 1;
    }
    if (args.planned && summary.failedCalls > 0) process.stderr.write(`hotcold demo: warning: ${summary.failedCalls} calls failed during a planned switchover\n`);
    return 0;
  } catch (error) {
    if (interrupted) return 130;
    throw error;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    stdoutClosed.removeEventListener('abort', onStdoutClosed);
    await db?.dispose().catch((error: unknown) => process.stderr.write(`hotcold demo: cleanup of the database failed: ${String(error)}\n`));
  }
}
