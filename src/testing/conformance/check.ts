import type { Probe, ProbeSettings } from './probe.js';

/** One check of the kit: a requirement of docs/wire.md and how to observe it on a running server. */
export interface Check {
  /** Stable id, `<area>.<what>`. */
  id: string;
  /** The requirement, citing its section of docs/wire.md. */
  requirement: string;
  /** Why the check does not apply under these settings (reported as `skip`), or undefined. */
  skip?(settings: ProbeSettings): string | undefined;
  /** Observes the requirement; resolves with what was seen, throws `CheckFailed` when it does not hold. */
  run(probe: Probe): Promise<string>;
}
