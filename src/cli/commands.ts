/**
 * The commands of `hotcold`. Each lives in its own module, loaded on demand so that
 * `hotcold lease status` does not pay for the demo's imports (and vice versa).
 */
import type { FlagSpecs } from './flags.js';

/** A command: its entry (argv after the command's name → exit code) and its flags. */
export interface Command {
  run(argv: string[]): Promise<number>;
  /** Every flag the command parses; its `--help` lists each with its meaning and default. */
  flags: FlagSpecs;
}

export interface CommandEntry {
  /** One line for `hotcold --help`. */
  summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: Readonly<Record<string, CommandEntry>> = {
  demo: {
    summary: 'two nodes, a balancer, a client under load, a failover; checks nothing was lost or run twice',
    load: async () => {
      const [{ runDemoCommand }, { DEMO_FLAGS }] = await Promise.all([import('./demo-command.js'), import('./demo/demo-args.js')]);
      return { run: runDemoCommand, flags: DEMO_FLAGS };
    },
  },
  lease: {
    summary: 'inspect and operate the leader lease (status, promote, release, init)',
    load: async () => {
      const { runLeaseCommand, LEASE_FLAGS } = await import('./lease-command.js');
      return { run: runLeaseCommand, flags: LEASE_FLAGS };
    },
  },
  node: {
    summary: 'run a reference node (the demo ledger app, or --app conformance) that serves while it holds the lease',
    load: async () => {
      const { runNodeCommand, NODE_FLAGS } = await import('./node-command.js');
      return { run: runNodeCommand, flags: NODE_FLAGS };
    },
  },
  conformance: {
    summary: 'check a server against the wire spec (docs/wire.md): a pass/fail table, exit 0/1',
    load: async () => {
      const { runConformanceCommand, CONFORMANCE_FLAGS } = await import('./conformance-command.js');
      return { run: runConformanceCommand, flags: CONFORMANCE_FLAGS };
    },
  },
};
