#!/usr/bin/env node
/**
 * The `hotcold` command. Each subcommand lives in its own module, loaded on demand so that
 * `hotcold lease status` does not pay for the demo's imports (and vice versa).
 */
import { ConfigurationError } from '../errors.js';

const USAGE = `usage: hotcold <command> [options]

commands:
  demo [--planned] [--db URL] [--lb dev|haproxy] [--json]   two nodes, a balancer, a client under load, a failover
  lease status|promote|release|init [--db URL] ...          inspect and operate the leader lease
  node [--db URL] [--port N] ...                            run a reference node
  conformance <url> [--standby URL] ...                     check a server against the wire spec (docs/wire.md)

Run 'hotcold <command> --help' for a command's options.`;

type Command = (argv: string[]) => Promise<number>;

const commands: Record<string, () => Promise<Command>> = {
  demo: async () => (await import('./demo-command.js')).runDemoCommand,
  lease: async () => (await import('./lease-command.js')).runLeaseCommand,
  node: async () => (await import('./node-command.js')).runNodeCommand,
  conformance: async () => (await import('./conformance-command.js')).runConformanceCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const load = commands[name];
  if (!load) {
    process.stderr.write(`hotcold: unknown command '${name}'\n\n${USAGE}\n`);
    return 2;
  }
  const run = await load();
  return run(rest);
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
