import { stat, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigurationError } from '../../errors.js';
import { renderFailoverReport } from './html-report.js';
import type { RunSummary } from './report.js';
import type { RunTimeline } from './timeline.js';

/**
 * Checks, before a run starts, that `--report FILE` can be written where asked: its folder
 * exists and the name is not a folder (a 10 s run should not end in ENOENT).
 * @throws {ConfigurationError} naming `--report`
 */
export async function checkReportPath(file: string): Promise<void> {
  const path = resolve(file);
  const folder = await stat(dirname(path)).catch(() => undefined);
  if (!folder?.isDirectory()) throw new ConfigurationError('--report', `folder ${dirname(path)} does not exist`);
  const existing = await stat(path).catch(() => undefined);
  if (existing?.isDirectory()) throw new ConfigurationError('--report', `${path} is a folder; name an .html file`);
}

/** Writes the HTML report; resolves to the absolute path written. */
export async function writeFailoverReport(file: string, summary: RunSummary, timeline: RunTimeline): Promise<string> {
  const path = resolve(file);
  await writeFile(path, renderFailoverReport({ summary, timeline }), 'utf8');
  return path;
}
