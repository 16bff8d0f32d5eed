#!/usr/bin/env node
/**
 * The `hotcold` command: `hotcold <command> [options]`, `hotcold --help`, `hotcold --version`.
 * Every command parses its flags with `node:util` `parseArgs` (src/cli/flags.ts).
 *
 * Exit codes: 0 done; 1 runtime error; 2 bad usage (a `ConfigurationError` naming the flag);
 * a command may add its own (see its --help).
 */
import { readFileSync } from 'node:fs';
import { ConfigurationError } from '../errors.js';
import { redactTyped } from '../shared/redact.js';
import { COMMANDS } from './commands.js';
import { formatHelp, HELP_FLAG, parseFlags, type FlagSpecs } from './flags.js';

const GLOBAL_FLAGS = {
  version: { type: 'boolean', short: 'v', description: 'print the version of hotcold and exit' },
  help: HELP_FLAG,
} as const satisfies FlagSpecs;

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((name) => name.length)) + 2;
  const commands = Object.entries(COMMANDS).map(([name, entry]) => `  ${name.padEnd(width)}${entry.summary}`);
  return formatHelp('usage: hotcold <command> [options]', GLOBAL_FLAGS, ['commands:', ...commands, '', "Run 'hotcold <command> --help' for a command's options."].join('\n'));
}

/** The package's version: package.json is two levels up from both src/cli/ and dist/cli/. */
function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
  return String(pkg.version);
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) {
    process.stderr.write(`${usage()}\n`);
    return 2;
  }
  if (name.startsWith('-')) {
    // `hotcold --help lease` as `hotcold help lease`: not "invalid option lease".
    const topic = (name === '--help' || name === '-h') && rest.length === 1 && rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    if (topic !== undefined) return (await topic.load()).run(['--help']);
    const { values } = parseFlags(GLOBAL_FLAGS, argv);
    if (values.version === true) process.stdout.write(`${version()}\n`);
    else process.stdout.write(`${usage()}\n`);
    return 0;
  }
  if (name === 'help') {
    if (rest[0] === undefined) {
      process.stdout.write(`${usage()}\n`);
      return 0;
    }
    const topic = COMMANDS[rest[0]];
    // A mistyped topic is the mistake `hotcold <topic>` reports: not a help that "succeeded".
    if (topic === undefined || rest.length > 1) {
      process.stderr.write(`hotcold: ${topic === undefined ? `unknown command '${redactTyped(rest[0])}'` : `help takes one command, not '${redactTyped(rest[1] ?? '')}'`}\n\n${usage()}\n`);
      return 2;
    }
    return (await topic.load()).run(['--help']);
  }
  const entry = COMMANDS[name];
  if (entry === undefined) {
    // Echoed without a credential: a database URL typed where the command belongs.
    process.stderr.write(`hotcold: unknown command '${redactTyped(name)}'\n\n${usage()}\n`);
    return 2;
  }
  return (await entry.load()).run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    if (error instanceof ConfigurationError) {
      process.stderr.write(`hotcold: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`hotcold: ${message}\n`);
    process.exitCode = 1;
  },
);
